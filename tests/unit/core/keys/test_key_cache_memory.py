"""The in-process layer of the key cache, without Redis: generations, trust, expiry."""

from __future__ import annotations

import time

from functions.core.keys.cache import TRUST_WINDOW, KeyCache
from functions.core.models.keys import REFUSED, Grant, Refusal


def _grant(expires_at: float | None = None) -> Grant:
    return Grant(
        key_id=7,
        name="app",
        scopes=frozenset({"read"}),
        environment="staging",
        expires_at=expires_at,
    )


def test_grant__json_round_trip__equal() -> None:
    # Given / When / Then
    grant = _grant(expires_at=1_900_000_000.5)
    assert Grant.from_json(grant.to_json()) == grant


def test_lookup__remembered_grant__served() -> None:
    # Given
    cache = KeyCache(None)
    cache.remember("h", _grant(), generation=cache.generation, durable=True)
    # When / Then
    assert cache.lookup("h") == _grant()
    assert cache.lookup("other") is None


def test_remember__notice_arrived_during_the_fetch__not_stored() -> None:
    # Given a fetch that started before a change notice
    cache = KeyCache(None)
    started = cache.generation
    cache.invalidate()
    # When its result is remembered
    cache.remember("h", _grant(), generation=started, durable=True)
    # Then it is dropped: it may describe the key as it was before the change
    assert cache.lookup("h") is None


def test_invalidate__cached_grants__all_dropped() -> None:
    # Given
    cache = KeyCache(None)
    cache.remember("h", _grant(), generation=cache.generation, durable=True)
    # When
    cache.invalidate()
    # Then
    assert cache.lookup("h") is None


def test_lookup__no_notice_listener__grant_trusted_for_the_window_only() -> None:
    # Given a cache whose notices cannot arrive (no Redis) and a grant stored now
    cache = KeyCache(None)
    cache.remember("h", _grant(), generation=cache.generation, durable=True)
    assert cache.lookup("h") is not None
    # When the trust window has passed
    time.sleep(TRUST_WINDOW + 0.05)
    # Then it must be fetched again
    assert cache.lookup("h") is None


def test_lookup__refusal__kept_past_the_window() -> None:
    # Given a refused key
    cache = KeyCache(None)
    cache.remember("h", REFUSED, generation=cache.generation, durable=True)
    # When / Then: a refused key never becomes valid, so the refusal stays
    time.sleep(TRUST_WINDOW + 0.05)
    assert cache.lookup("h") is REFUSED


def test_lookup__grant_past_its_expiry__refused_without_any_notice() -> None:
    # Given a grant expiring in 0.2 s
    cache = KeyCache(None)
    grant = _grant(time.time() + 0.2)
    cache.remember("h", grant, generation=cache.generation, durable=True)
    assert cache.lookup("h") == grant
    # When it expires
    time.sleep(0.25)
    refusal = cache.lookup("h")
    # Then it is refused, saying that it expired
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "expired"
    assert refusal.message.startswith("this key expired at ")


def test_remember__cache_full__starts_over_instead_of_growing() -> None:
    # Given a cache for two entries, full
    cache = KeyCache(None, max_entries=2)
    for name in ("a", "b"):
        cache.remember(name, REFUSED, generation=cache.generation, durable=True)
    # When a third arrives
    cache.remember("c", REFUSED, generation=cache.generation, durable=True)
    # Then memory stays bounded
    assert cache.lookup("a") is None
    assert cache.lookup("c") is REFUSED
