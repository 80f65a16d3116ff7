"""The Redis copy of the snapshot: what a new evaluation process starts from, so that it
needs neither PostgreSQL nor a sleeping admin function to answer.

Two hashes, `tm:snapshot:config` and `tm:snapshot:keys`: one field per entity
(`flag:<name>`, `segment:<key>`, `environment:<key>`, `key:<id>`, each the document
JSON) and `_meta` (epoch, version; the configuration's also its environments'
versions). Evaluation processes keep it current themselves, after they applied a
change: a change is written only onto the version it follows (checked and applied
atomically in Redis), so concurrent writers never interleave two states; any other
gap is closed by rewriting the whole copy.

The configuration's `_meta` also says the documents' `format`: `CONFIG_FORMAT` since
rule and segment documents carry their grammar. A copy without it (written, or last
changed, by a process that predates grammars, which loads documents without theirs) is
no copy to a reader -- it starts from PostgreSQL, as with none, rather than read a
grammar-2 rule as grammar 1 -- and a writer replaces it whole.

The keys' copy is signed as a whole with `GRANT_SECRET` (`keys.signing`): its `_meta`
carries a MAC over the epoch, the version and every field as stored, so a field added,
changed or put back from an older copy makes the whole copy untrusted, and a reader
loads the keys from PostgreSQL instead (and logs that it did, never a key). It is
always written whole (`replace_signed`): keys are few and change rarely.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.core.keys.signing import KEYS_COPY, Signer
from functions.core.redis_keys import SNAPSHOT_CONFIG, SNAPSHOT_KEYS
from functions.core.snapshot.state import Change, Document, Version

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

META = "_meta"
SIGNATURE = "sig"
FORMAT = "format"
CONFIG_FORMAT = 2
"""The configuration documents' shape: 2 since they carry their grammar."""
_WRITE_BATCH = 2_000

# KEYS[1] the hash; ARGV[1] epoch, ARGV[2] base version, ARGV[3] new version,
# ARGV[4] new meta JSON, then pairs (field, JSON or "" to delete).
# Returns 1 written, 0 already at or past the new version, -1 not at the base (or in
# another format).
_APPLY = """
local raw = redis.call('HGET', KEYS[1], '_meta')
if not raw then return -1 end
local meta = cjson.decode(raw)
if meta['epoch'] ~= ARGV[1] then return -1 end
if meta['format'] ~= cjson.decode(ARGV[4])['format'] then return -1 end
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


# KEYS[1] the copy, KEYS[2] the one just built; ARGV[1] epoch, ARGV[2] version,
# ARGV[3] format. Renames unless the copy meanwhile reached this version or a newer one
# (in this format).
_SWAP = """
local raw = redis.call('HGET', KEYS[1], '_meta')
if raw then
  local meta = cjson.decode(raw)
  if meta['epoch'] == ARGV[1] and tonumber(meta['version']) >= tonumber(ARGV[2])
     and meta['format'] == tonumber(ARGV[3]) then
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


def read(client: redis.Redis, source: str, signer: Signer | None = None) -> Copy | None:
    """The copy of `source` ("config" or "keys"), or None when there is none; with a
    `signer`, the keys' copy only if its signature holds."""
    raw: Mapping[bytes, bytes] = client.hgetall(hash_name(source))  # type: ignore[assignment]
    return _decode(raw, source, signer)


def _decode(raw: Mapping[bytes, bytes], source: str, signer: Signer | None) -> Copy | None:
    meta_raw = raw.get(META.encode())
    if meta_raw is None:
        return None
    meta = json.loads(meta_raw)
    if not _current_format(source, meta):
        return None
    version = Version(str(meta["epoch"]), int(meta["version"]))
    if signer is not None and source == "keys":
        mac = meta.get(SIGNATURE)
        if not isinstance(mac, str) or not signer.valid(
            KEYS_COPY, _signed_payload(version, _fields(raw)), mac
        ):
            log.warning(
                "the Redis copy of the keys is not signed with GRANT_SECRET: ignored",
                extra={"version": version.version},
            )
            return None
    documents: dict[tuple[str, str], Document] = {}
    for name, value in raw.items():
        kind, _, key = name.decode().partition(":")
        if kind != META:
            documents[(kind, key)] = json.loads(value)
    return Copy(version, documents, meta)


def _fields(raw: Mapping[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return sorted((name, value) for name, value in raw.items() if name != META.encode())


def _signed_payload(version: Version, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    digest = hashlib.sha256()
    for name, value in fields:
        digest.update(len(name).to_bytes(4, "big") + name + len(value).to_bytes(8, "big") + value)
    return f"{version.epoch}\n{version.version}\n".encode() + digest.digest()


def replace_signed(
    client: redis.Redis,
    source: str,
    *,
    version: Version,
    documents: Mapping[tuple[str, str], Document],
    signer: Signer,
) -> bool:
    """Write the whole copy, signed, unless it already holds this version or a newer one
    of the same epoch under a valid signature. Built under a temporary name and renamed
    (under WATCH, so a newer copy written meanwhile is kept)."""
    import redis  # loaded here, not at start-up (`adapters.redis_clients`)

    name = hash_name(source)
    fields = sorted(
        (f"{kind}:{key}".encode(), json.dumps(doc).encode())
        for (kind, key), doc in documents.items()
    )
    mac = signer.mac(KEYS_COPY, _signed_payload(version, fields))
    meta = json.dumps({"epoch": version.epoch, "version": version.version, SIGNATURE: mac})
    building = f"{name}:building:{version.version}:{os.getpid()}"
    client.delete(building)
    for start in range(0, len(fields), _WRITE_BATCH):
        client.hset(building, mapping=dict(fields[start : start + _WRITE_BATCH]))
    client.hset(building, META, meta)
    with client.pipeline() as pipe:
        try:
            pipe.watch(name)  # type: ignore[no-untyped-call]
            current = _decode(pipe.hgetall(name), source, signer)  # type: ignore[arg-type]
            if (
                current is not None
                and current.version.epoch == version.epoch
                and current.version.version >= version.version
            ):
                pipe.unwatch()
                client.delete(building)
                return False
            pipe.multi()
            pipe.rename(building, name)
            pipe.execute()
        except redis.WatchError:
            client.delete(building)
            return False
    return True


def stored_version(client: redis.Redis, source: str) -> Version | None:
    """The version the copy of `source` holds; None when there is none (or one of an
    earlier format, which is to be replaced whole)."""
    raw = client.hget(hash_name(source), META)
    if raw is None:
        return None
    meta = json.loads(raw)
    if not _current_format(source, meta):
        return None
    return Version(str(meta["epoch"]), int(meta["version"]))


def _current_format(source: str, meta: Mapping[str, Any]) -> bool:
    return source != "config" or meta.get(FORMAT) == CONFIG_FORMAT


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
        if (
            found.get("epoch") == version.epoch
            and int(found["version"]) >= version.version
            and _current_format(source, found)
        ):
            return False
    building = f"{name}:building:{version.version}"
    client.delete(building)
    items = [(f"{kind}:{key}", json.dumps(doc)) for (kind, key), doc in documents.items()]
    for start in range(0, len(items), _WRITE_BATCH):
        client.hset(building, mapping=dict(items[start : start + _WRITE_BATCH]))
    client.hset(building, META, _meta(version, meta))
    moved = client.eval(
        _SWAP, 2, name, building, version.epoch, str(version.version), str(CONFIG_FORMAT)
    )
    return bool(moved)


def _meta(version: Version, meta: Mapping[str, Any]) -> str:
    return json.dumps(
        {**meta, FORMAT: CONFIG_FORMAT, "epoch": version.epoch, "version": version.version}
    )
