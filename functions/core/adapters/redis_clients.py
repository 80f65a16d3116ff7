"""Redis clients, one per URL and per process, built on first use.

redis-py loads with the first client (about 60 ms of imports, its asyncio client
included): evaluation's workers make theirs after the fork, in the thread that loads
the snapshot, so a cold start does not wait for it. Modules that catch its errors
import it where they do."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(redis_url: str) -> redis.Redis:
    with _lock:
        client = _clients.get(redis_url)
        if client is None:
            import redis

            client = redis.Redis.from_url(
                redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
            )
            _clients[redis_url] = client
        return client


def close_all() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
