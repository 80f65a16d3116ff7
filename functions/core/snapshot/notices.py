"""Change notices: how every write reaches what evaluation holds (seed report §1.5).

Writers bump a monotonic configuration version and publish what changed. Readers
tag what they cache with the version they read *before* fetching, so an entry
fetched during a write is already stale when the write's bump lands: no cache is
ever flushed by hand.

The counter starts from a random base whenever Redis has none (first use, or Redis
restarted empty), so a version seen before a restart is never seen again after it:
a cache tagged with an old version cannot pass for current.
"""

from __future__ import annotations

import json
import logging
import secrets

import redis

from functions.core.adapters.redis_clients import redis_client
from functions.core.redis_keys import CONFIG_CHANGES_CHANNEL, CONFIG_VERSION

log = logging.getLogger(__name__)


def announce_change(client: redis.Redis, *, kind: str, name: str) -> int | None:
    """Bump the version and publish the change; returns the new version.

    The write it follows is already committed, so a Redis failure here is logged and
    not raised: the readers' cache lifetime (CONFIG_CACHE_TTL_SECONDS) bounds how long
    the change can go unseen.
    """
    try:
        pipe = client.pipeline(transaction=True)
        pipe.set(CONFIG_VERSION, _random_base(), nx=True)
        pipe.incr(CONFIG_VERSION)
        results = pipe.execute()
        version = int(results[1])
        client.publish(
            CONFIG_CHANGES_CHANNEL, json.dumps({"version": version, "kind": kind, "name": name})
        )
        return version
    except redis.RedisError as exc:
        log.error(
            "change notice not delivered", extra={"kind": kind, "name": name, "error": str(exc)}
        )
        return None


def current_version(client: redis.Redis, raw: object = None) -> int:
    """The version (`raw`: as already read with other keys); starts a new epoch if none."""
    if raw is None:
        client.set(CONFIG_VERSION, _random_base(), nx=True)
        raw = client.get(CONFIG_VERSION)
    assert isinstance(raw, bytes | str)
    return int(raw)


def _random_base() -> int:
    return secrets.randbelow(2**52) + 2**20


class ChangeNotices:
    """What a service holds to announce its writes: `announce(kind, name)` after commit."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url

    def announce(self, kind: str, name: str) -> int | None:
        return announce_change(redis_client(self._redis_url), kind=kind, name=name)
