"""When each key was last used, without a write per request: processes note key id →
time in memory (`KeyUsage`), a thread adds the batch to the sorted set
`tm:keys:last-used` (`ZADD GT`) every few seconds, and auth merges that set into
`api_keys.last_used_at` when keys are listed or shown.

Only times are kept here, never a key or its hash. A Redis writer can make a key look
used more recently than it was; it decides nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from functions.core.redis_keys import KEY_USAGE

if TYPE_CHECKING:
    import redis


def note_usage(client: redis.Redis, used: Mapping[int, float]) -> None:
    if used:
        client.zadd(KEY_USAGE, {str(key_id): at for key_id, at in used.items()}, gt=True)


def read_usage(client: redis.Redis) -> dict[int, float]:
    pairs = cast(list[tuple[bytes, float]], client.zrange(KEY_USAGE, 0, -1, withscores=True))
    return {int(member): float(score) for member, score in pairs}


class KeyUsage:
    """Noted in memory per request, handed to Redis every `every` seconds by a thread of
    its own, started on first use (build it in the process that uses it)."""

    def __init__(self, redis_factory: Callable[[], redis.Redis], every: float = 2.0) -> None:
        self._redis_factory = redis_factory
        self._every = every
        self._used: dict[int, float] = {}
        self._thread: threading.Thread | None = None

    def note(self, key_id: int, at: float) -> None:
        self._used[key_id] = at
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="key-usage", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        import redis  # loaded here, not at start-up (`adapters.redis_clients`)

        while True:
            time.sleep(self._every)
            batch, self._used = self._used, {}
            try:
                note_usage(self._redis_factory(), batch)
            except redis.RedisError:
                for key_id, at in batch.items():
                    self._used.setdefault(key_id, at)
