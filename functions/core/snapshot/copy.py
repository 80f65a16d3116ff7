"""The Redis copy of the snapshot: what a new evaluation process starts from, so that it
needs neither PostgreSQL nor a sleeping admin function to answer.

Two hashes, `tm:snapshot:config` and `tm:snapshot:keys`: one field per entity
(`flag:<name>`, `segment:<key>`, `environment:<key>`, `key:<id>`, each the document
JSON) and `_meta` (epoch, version; the configuration's also its environments'
versions). Evaluation processes keep it current themselves, after they applied a
change: a change is written only onto the version it follows (checked and applied
atomically in Redis), so concurrent writers never interleave two states; any other
gap is closed by rewriting the whole copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from functions.core.redis_keys import SNAPSHOT_CONFIG, SNAPSHOT_KEYS
from functions.core.snapshot.state import Change, Document, Version

META = "_meta"
_WRITE_BATCH = 2_000

# KEYS[1] the hash; ARGV[1] epoch, ARGV[2] base version, ARGV[3] new version,
# ARGV[4] new meta JSON, then pairs (field, JSON or "" to delete).
# Returns 1 written, 0 already at or past the new version, -1 not at the base.
_APPLY = """
local raw = redis.call('HGET', KEYS[1], '_meta')
if not raw then return -1 end
local meta = cjson.decode(raw)
if meta['epoch'] ~= ARGV[1] then return -1 end
local at = tonumber(meta['version'])
if at >= tonumber(ARGV[3]) then return 0 end
if at ~= tonumber(ARGV[2]) then return -1 end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], '_meta', ARGV[4])
return 1
"""


# KEYS[1] the copy, KEYS[2] the one just built; ARGV[1] epoch, ARGV[2] version.
# Renames unless the copy meanwhile reached this version or a newer one.
_SWAP = """
local raw = redis.call('HGET', KEYS[1], '_meta')
if raw then
  local meta = cjson.decode(raw)
  if meta['epoch'] == ARGV[1] and tonumber(meta['version']) >= tonumber(ARGV[2]) then
    redis.call('DEL', KEYS[2])
    return 0
  end
end
redis.call('RENAME', KEYS[2], KEYS[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class Copy:
    version: Version
    documents: dict[tuple[str, str], Document]
    meta: Mapping[str, Any]


def hash_name(source: str) -> str:
    return SNAPSHOT_CONFIG if source == "config" else SNAPSHOT_KEYS


def read(client: redis.Redis, source: str) -> Copy | None:
    """The copy of `source` ("config" or "keys"), or None when there is none."""
    raw: Mapping[bytes, bytes] = client.hgetall(hash_name(source))  # type: ignore[assignment]
    meta_raw = raw.get(META.encode())
    if meta_raw is None:
        return None
    meta = json.loads(meta_raw)
    documents: dict[tuple[str, str], Document] = {}
    for name, value in raw.items():
        kind, _, key = name.decode().partition(":")
        if kind != META:
            documents[(kind, key)] = json.loads(value)
    return Copy(Version(str(meta["epoch"]), int(meta["version"])), documents, meta)


def stored_version(client: redis.Redis, source: str) -> Version | None:
    """The version the copy of `source` holds; None when there is none."""
    raw = client.hget(hash_name(source), META)
    if raw is None:
        return None
    meta = json.loads(raw)
    return Version(str(meta["epoch"]), int(meta["version"]))


def apply(
    client: redis.Redis,
    source: str,
    *,
    base: Version,
    new: Version,
    changes: Iterable[Change],
    meta: Mapping[str, Any],
) -> int:
    """Write `changes` if the copy stands at `base`: 1 written, 0 already newer, -1 not
    at `base` (the caller then writes the whole copy)."""
    arguments: list[str] = [new.epoch, str(base.version), str(new.version), _meta(new, meta)]
    for change in changes:
        arguments.append(f"{change.kind}:{change.key}")
        arguments.append("" if change.document is None else json.dumps(change.document))
    if base.epoch != new.epoch:
        return -1
    result = client.eval(_APPLY, 1, hash_name(source), *arguments)
    return int(result)


def replace(
    client: redis.Redis,
    source: str,
    *,
    version: Version,
    documents: Mapping[tuple[str, str], Document],
    meta: Mapping[str, Any],
) -> bool:
    """Write the whole copy, unless it already holds this version or a newer one of
    the same epoch. Built under a temporary name and renamed, so a reader never sees
    a copy half written."""
    name = hash_name(source)
    current = client.hget(name, META)
    if current is not None:
        found = json.loads(current)
        if found.get("epoch") == version.epoch and int(found["version"]) >= version.version:
            return False
    building = f"{name}:building:{version.version}"
    client.delete(building)
    items = [(f"{kind}:{key}", json.dumps(doc)) for (kind, key), doc in documents.items()]
    for start in range(0, len(items), _WRITE_BATCH):
        client.hset(building, mapping=dict(items[start : start + _WRITE_BATCH]))
    client.hset(building, META, _meta(version, meta))
    moved = client.eval(_SWAP, 2, name, building, version.epoch, str(version.version))
    return bool(moved)


def _meta(version: Version, meta: Mapping[str, Any]) -> str:
    return json.dumps({**meta, "epoch": version.epoch, "version": version.version})
