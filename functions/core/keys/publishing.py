"""Auth's side of the shared key cache: publishing grants, announcing key changes, and
the usage notes every function leaves (see `keys.cache` for the readers' side).

A change that shortens a key's life is announced *before* it commits, inside its
transaction (`announce`): if Redis cannot be told, the change is refused.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import cast

import redis

from functions.core.errors import ServiceUnavailable
from functions.core.models.keys import ApiKey, Grant
from functions.core.redis_keys import KEY_CHANGES_CHANNEL, KEY_GRANT_PREFIX, KEY_USAGE, KEYS_VERSION

log = logging.getLogger(__name__)

ENTRY_TTL_SECONDS = 120
"""How long a published grant lives at most (see `keys.cache`: what no notice reaches)."""

# Store the grant only if no key change was announced since `version` was read.
_SHARE_IF_UNCHANGED = """
local current = redis.call('GET', KEYS[1]) or '0'
if current == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def keys_version(client: redis.Redis) -> int:
    raw = client.get(KEYS_VERSION)
    return int(raw) if raw is not None else 0


def share_grant(client: redis.Redis, key_hash: str, grant: Grant, *, version: int) -> bool:
    """Publish a grant auth just validated, unless a key change happened since `version`."""
    ttl = ENTRY_TTL_SECONDS
    if grant.expires_at is not None:
        ttl = min(ttl, max(1, int(grant.expires_at - time.time())))
    stored = client.eval(
        _SHARE_IF_UNCHANGED,
        2,
        KEYS_VERSION,
        KEY_GRANT_PREFIX + key_hash,
        str(version),
        grant.to_json(),
        str(ttl),
    )
    return bool(stored)


def announce_key_change(
    client: redis.Redis, *, key_ids: Iterable[int], hashes: Iterable[str]
) -> None:
    """After a committed change: no reader may keep serving these keys from a cache."""
    pipe = client.pipeline(transaction=True)
    pipe.incr(KEYS_VERSION)
    doomed = [KEY_GRANT_PREFIX + key_hash for key_hash in hashes]
    if doomed:
        pipe.delete(*doomed)
    pipe.publish(KEY_CHANGES_CHANNEL, json.dumps({"key_ids": sorted(key_ids)}))
    pipe.execute()


def note_usage(client: redis.Redis, used: Mapping[int, float]) -> None:
    if used:
        client.zadd(KEY_USAGE, {str(key_id): at for key_id, at in used.items()}, gt=True)


def read_usage(client: redis.Redis) -> dict[int, float]:
    pairs = cast(list[tuple[bytes, float]], client.zrange(KEY_USAGE, 0, -1, withscores=True))
    return {int(member): float(score) for member, score in pairs}


def announce(client: redis.Redis | None, keys: Iterable[ApiKey]) -> None:
    """Tell every key cache that these keys changed; call it inside the transaction that
    changes them, before it commits. A Redis failure raises `ServiceUnavailable`, which
    rolls that transaction back: a change no cache was told about must not happen."""
    changed = list(keys)
    if client is None or not changed:
        return
    try:
        announce_key_change(
            client, key_ids=[k.id for k in changed], hashes=[k.key_hash for k in changed]
        )
    except redis.RedisError as exc:
        log.error(
            "key change refused: its notice could not be delivered",
            extra={"key_ids": [k.id for k in changed], "error": exc.__class__.__name__},
        )
        raise ServiceUnavailable(
            "the key change was not made: Redis, through which the other functions learn"
            " of key changes, is unreachable, so they could keep accepting the key."
            " Nothing changed; retry when Redis is back",
            dependency="redis",
            key_ids=[k.id for k in changed],
        ) from exc
