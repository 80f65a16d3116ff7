"""Redis clients, one per URL and per process, built on first use."""

from __future__ import annotations

import threading

import redis

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(redis_url: str) -> redis.Redis:
    with _lock:
        client = _clients.get(redis_url)
        if client is None:
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
