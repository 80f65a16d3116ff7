"""Change notices against a real Redis: what a writer publishes is what a reader parses,
and a Redis outage never fails a write, and is logged once, not once per write."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL
from functions.core.snapshot import notices
from functions.core.snapshot.notices import Notice, NoticeChange, parse_notice

NOTICE = Notice(
    source="config",
    epoch="5b0f3f0e-8a43-4d3c-9c55-1f6d6f1b8a10",
    version=42,
    changes=(
        NoticeChange("flag", "checkout", "production", {"name": "checkout", "states": {}}),
        NoticeChange("segment", "beta", None, None),
    ),
    complete=True,
)


@pytest.fixture
def subscriber(redis_url: str) -> Iterator[redis.client.PubSub]:
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
    pubsub.subscribe(SNAPSHOT_CHANGES_CHANNEL)
    assert pubsub.get_message(timeout=2.0) is not None  # the subscription's confirmation
    yield pubsub
    pubsub.close()
    client.close()


def test_publish__a_subscriber__receives_the_notice_it_parses_back(
    redis_url: str, subscriber: redis.client.PubSub
) -> None:
    # When a notice is published
    delivered = notices.publish(redis_url, NOTICE)
    # Then a subscriber of the channel parses back the same notice
    message = subscriber.get_message(timeout=2.0)
    assert delivered is True
    assert message is not None and message["type"] == "message"
    assert parse_notice(message["data"]) == NOTICE


class _FlakyRedis:
    """Redis as a writer sees it, down until told otherwise."""

    def __init__(self, real: redis.Redis) -> None:
        self.real, self.down = real, True

    def publish(self, channel: str, data: str) -> int:
        if self.down:
            raise redis.ConnectionError("connection refused")
        return int(self.real.publish(channel, data))


def test_publish__redis_down_for_several_writes__false_and_logged_once_per_outage(
    redis_url: str,
    subscriber: redis.client.PubSub,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given Redis down while three writes publish their notices
    flaky = _FlakyRedis(redis.Redis.from_url(redis_url))
    monkeypatch.setattr(notices, "redis_client", lambda _url: flaky)
    caplog.set_level(logging.INFO, logger=notices.__name__)
    results = [notices.publish(redis_url, NOTICE) for _ in range(3)]
    # When Redis answers again and two more writes publish
    flaky.down = False
    results += [notices.publish(redis_url, NOTICE) for _ in range(2)]

    # Then nothing was raised, the first three were not delivered, the others were
    assert results == [False, False, False, True, True]
    # And the outage was logged once when it started and once when it ended
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("change notices not delivered")
    assert messages[1] == "change notices delivered again"
    assert caplog.records[0].levelno == logging.ERROR
    received = [subscriber.get_message(timeout=1.0) for _ in range(2)]
    assert all(m is not None and parse_notice(m["data"]) == NOTICE for m in received)
    flaky.real.close()
