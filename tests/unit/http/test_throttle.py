"""Rate limits per client: who the client is (behind trusted proxies only), 429 with
Retry-After over the limit, memory bounded, and nothing counted when off."""

from __future__ import annotations

import pytest

from functions.core.errors import TooManyRequests, Unauthorized
from functions.core.settings import proxy_networks
from functions.http.messages import Headers, Request
from functions.http.responses import error_response
from functions.http.throttle import Throttle, client_address, counting_failures


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = Headers({"x-forwarded-for": forwarded} if forwarded is not None else {})
    return Request("GET", "/flags", headers=headers, client=peer)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        pytest.param("203.0.113.9", None, "", "203.0.113.9", id="no proxy"),
        pytest.param("203.0.113.9", "1.2.3.4", "", "203.0.113.9", id="header without trust"),
        pytest.param(
            "198.51.100.7", "1.2.3.4", "10.0.0.0/8", "198.51.100.7", id="peer not trusted"
        ),
        pytest.param("10.1.2.3", "1.2.3.4", "10.0.0.0/8", "1.2.3.4", id="one trusted proxy"),
        pytest.param(
            "127.0.0.1",
            "6.6.6.6, 1.2.3.4, 10.0.0.5",
            "10.0.0.0/8,127.0.0.1",
            "1.2.3.4",
            id="a client's own entry is not taken",
        ),
        pytest.param("10.1.2.3", None, "10.0.0.0/8", "10.1.2.3", id="trusted peer, no header"),
        pytest.param("10.1.2.3", "10.0.0.9, 10.0.0.8", "10.0.0.0/8", "10.0.0.9", id="all trusted"),
    ],
)
def test_client_address__proxies__nearest_untrusted_hop(
    peer: str, forwarded: str | None, trusted: str, client: str
) -> None:
    # Given / When / Then
    assert client_address(_request(peer, forwarded), proxy_networks(trusted)) == client


def _throttle(limit: int = 3, max_clients: int = 1000) -> Throttle:
    return Throttle(
        "test", limit=limit, window_seconds=60, message="too many tries", max_clients=max_clients
    )


def test_count__over_the_limit__429_with_retry_after_and_a_json_error() -> None:
    # Given a limit of three per minute
    throttle = _throttle()
    request = _request("203.0.113.9")
    for _ in range(3):
        throttle.count(request)
    # When a fourth event comes from the same client
    with pytest.raises(TooManyRequests) as raised:
        throttle.count(request)
    # Then it is refused: 429, Retry-After within the window, the body says why
    response = error_response(raised.value)
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert b'"code":"rate_limited"' in response.body
    assert b"at most 3 per 60 s per client" in response.body


def test_count__other_client__not_limited() -> None:
    # Given a client over the limit
    throttle = _throttle(limit=1)
    throttle.count(_request("203.0.113.9"))
    with pytest.raises(TooManyRequests):
        throttle.count(_request("203.0.113.9"))
    # When / Then another client is counted on its own
    throttle.count(_request("203.0.113.10"))


def test_check__limit_used_up__429_without_counting() -> None:
    # Given a client that used up its limit
    throttle = _throttle(limit=2)
    request = _request("203.0.113.9")
    throttle.check(request)
    throttle.count(request)
    throttle.count(request)
    # When / Then the next check refuses it
    with pytest.raises(TooManyRequests):
        throttle.check(request)


def test_count__limit_zero__never_refuses_and_keeps_nothing() -> None:
    # Given a limit turned off
    throttle = _throttle(limit=0)
    # When a thousand events come
    for index in range(1000):
        throttle.count(_request(f"203.0.113.{index % 250}"))
    # Then none is refused and nothing is tracked
    assert throttle.tracked() == 0


def test_count__more_clients_than_tracked__oldest_forgotten_never_all() -> None:
    # Given a throttle that tracks at most 100 clients
    throttle = _throttle(max_clients=100)
    # When 1 000 different clients each fail once
    for index in range(1000):
        throttle.count(_request(f"198.51.{index // 250}.{index % 250}"))
    # Then it tracks exactly 100: the most recent, the others forgotten one by one
    assert throttle.tracked() == 100


def test_counting_failures__refused_key__counted_then_429() -> None:
    # Given a check that always refuses the key
    throttle = _throttle(limit=2)
    request = _request("203.0.113.9")

    def refuse() -> None:
        raise Unauthorized("unknown API key", reason="unknown")

    # When it fails three times
    for _ in range(2):
        with pytest.raises(Unauthorized):
            counting_failures(throttle, request, refuse)
    # Then the third is 429
    with pytest.raises(TooManyRequests):
        counting_failures(throttle, request, refuse)
