"""The key cache's Redis side: shared grants, change notices, usage batches, and what a
process does when its notices stop. Two `KeyCache`s stand for two processes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from functions.core.keys import publishing
from functions.core.keys.cache import TRUST_WINDOW, KeyCache
from functions.core.models.keys import Grant
from functions.core.redis_keys import KEY_GRANT_PREFIX
from functions.devstack.processes import free_port

CacheFactory = Callable[..., KeyCache]


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def make_cache(client: redis.Redis) -> Iterator[CacheFactory]:
    made: list[KeyCache] = []

    def make(**options: float) -> KeyCache:
        cache = KeyCache(client, **options)  # type: ignore[arg-type]
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


def _grant(key_id: int = 7) -> Grant:
    return Grant(
        key_id=key_id, name="app", scopes=frozenset({"read"}), environment=None, expires_at=None
    )


def _listening(cache: KeyCache, timeout: float = 5.0) -> None:
    cache.lookup("warm-up")  # starts the listener
    deadline = time.monotonic() + timeout
    while not cache.listening:
        assert time.monotonic() < deadline, "the notice listener never confirmed"
        time.sleep(0.01)


def test_share_grant__version_unchanged__readers_find_it(
    client: redis.Redis, make_cache: CacheFactory
) -> None:
    # Given a grant shared at the current version
    key_hash = uuid.uuid4().hex
    stored = publishing.share_grant(
        client, key_hash, _grant(), version=publishing.keys_version(client)
    )
    # When a reader looks in Redis / Then
    assert stored
    assert make_cache().read_shared(key_hash) == _grant()


def test_share_grant__key_changed_since_version_read__not_stored(client: redis.Redis) -> None:
    # Given a validation that read the version, then a revocation announced meanwhile
    key_hash = uuid.uuid4().hex
    version = publishing.keys_version(client)
    publishing.announce_key_change(client, key_ids=[7], hashes=[key_hash])
    # When the validation shares what it read / Then it is refused
    assert not publishing.share_grant(client, key_hash, _grant(), version=version)
    assert client.get(KEY_GRANT_PREFIX + key_hash) is None


def test_announce__two_processes_holding_the_grant__both_drop_it_within_a_second(
    client: redis.Redis, make_cache: CacheFactory
) -> None:
    # Given two processes serving a grant from memory, long after they fetched it
    key_hash = uuid.uuid4().hex
    publishing.share_grant(client, key_hash, _grant(), version=publishing.keys_version(client))
    caches = [make_cache(), make_cache()]
    for cache in caches:
        _listening(cache)
        cache.remember(key_hash, _grant(), generation=cache.generation, durable=True)
    time.sleep(TRUST_WINDOW + 0.1)
    assert all(cache.lookup(key_hash) == _grant() for cache in caches)
    # When the key's change is announced
    started = time.monotonic()
    publishing.announce_key_change(client, key_ids=[7], hashes=[key_hash])
    # Then both stop serving it within a second, and Redis no longer has it
    while any(cache.lookup(key_hash) is not None for cache in caches):
        assert time.monotonic() - started < 1.0
        time.sleep(0.002)
    assert all(cache.read_shared(key_hash) is None for cache in caches)


def test_lookup__notices_unreachable__grant_refetched_after_the_window(
    make_cache: CacheFactory,
) -> None:
    # Given a process whose Redis does not answer, holding a grant
    dead = KeyCache(redis.Redis(port=free_port(), socket_connect_timeout=0.2))
    try:
        dead.lookup("warm-up")
        dead.remember("h", _grant(), generation=dead.generation, durable=True)
        # When the trust window passes without proof that no notice is pending
        time.sleep(TRUST_WINDOW + 0.1)
        # Then the grant is not served from memory any more
        assert not dead.listening
        assert dead.lookup("h") is None
    finally:
        dead.close()


def test_note_use__many_requests__one_batch_keeping_the_latest_time(
    client: redis.Redis, make_cache: CacheFactory
) -> None:
    # Given a key used by two processes, the later use first in Redis
    key_id = int(uuid.uuid4().int % 1_000_000_000)
    publishing.note_usage(client, {key_id: time.time() + 3600})
    cache = make_cache(usage_flush_seconds=0.2)
    _listening(cache)
    # When the other process notes many uses and flushes
    for _ in range(100):
        cache.note_use(key_id)
    time.sleep(0.6)
    # Then the set holds the latest time, not the one flushed last
    assert publishing.read_usage(client)[key_id] > time.time() + 3000
    other = key_id + 1
    cache.note_use(other)
    time.sleep(0.6)
    assert abs(publishing.read_usage(client)[other] - time.time()) < 5
