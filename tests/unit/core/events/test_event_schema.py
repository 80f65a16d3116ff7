"""The event schema analytics and producers agree on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from functions.commands.schemas import PUBLISHED, render
from functions.core.events.schema import InvalidEventBody, new_event, parse_body

EVENTS_DIR = Path(__file__).resolve().parents[4] / "events"
SEED_EVENT = {
    "user_id": "user-1",
    "flag_name": "checkout_v2",
    "result": True,
    "timestamp": "2026-11-24T10:00:00Z",
}


def test_parse_body__seed_bare_event__one_event_with_stable_id() -> None:
    # Given the seed's body of one event without an id
    body = json.dumps(SEED_EVENT)
    # When it is parsed twice (a redelivery)
    first = parse_body(body)
    second = parse_body(body)
    # Then it is one event, not a pack, with the same derived id both times
    assert first.pack_id is None
    assert len(first.events) == 1
    assert first.events[0].event_id == second.events[0].event_id


def _events(count: int) -> list[dict[str, object]]:
    return [
        new_event(
            user_id=f"u{i}",
            flag_name="f",
            result=True,
            environment="production",
            variant="on",
            reason="DEFAULT",
        )
        for i in range(count)
    ]


def test_parse_body__pack__every_event_keeps_its_id() -> None:
    # Given a pack of two producer-made events
    events = _events(2)
    body = json.dumps({"pack_id": "p-1", "events": events})
    # When it is parsed
    result = parse_body(body)
    pack_id, parsed = result.pack_id, result.events
    # Then the pack id and both event ids survive
    assert pack_id == "p-1"
    assert [e.event_id for e in parsed] == [e["event_id"] for e in events]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"events": []}',
        b'{"user_id": "u"}',
        b'{"pack_id": "p", "events": [{}]}',
        json.dumps({**SEED_EVENT, "result": "yes"}).encode(),
    ],
)
def test_parse_body__invalid_body__refused(body: bytes) -> None:
    # Given / When / Then
    with pytest.raises(InvalidEventBody):
        parse_body(body)


def test_new_event__producer_event__iso_utc_timestamp_and_uuid() -> None:
    # Given / When
    event = new_event(
        user_id="u", flag_name="f", result=False, environment=None, variant=None, reason="DISABLED"
    )
    # Then
    assert str(event["timestamp"]).endswith("Z")
    assert len(str(event["event_id"])) == 36


@pytest.mark.parametrize(("path", "model"), sorted(PUBLISHED.items()), ids=lambda v: str(v)[-40:])
def test_published_schema__models__match_committed_file(path: Path, model: type[BaseModel]) -> None:
    # Given the schema published in the repository
    published = path.read_text()
    # When / Then it is what the model produces today (run `make schemas` after a change)
    assert published == render(model)


@pytest.mark.parametrize("sample", sorted((EVENTS_DIR / "samples").glob("*.json")))
def test_samples__events_folder__parse(sample: Path) -> None:
    # Given / When / Then every sample body is accepted by analytics
    assert parse_body(sample.read_bytes()).events


def test_parse_body__pack_with_one_bad_event__others_kept_bad_one_reported() -> None:
    # Given a pack of three events whose second has an environment too long to store
    good = _events(2)
    bad = {**good[0], "event_id": "x", "environment": "p" * 600}
    body = json.dumps({"pack_id": "p-2", "events": [good[0], bad, good[1]]})
    # When it is parsed
    parsed = parse_body(body)
    # Then the two good events survive and the bad one is named by its index
    assert [e.user_id for e in parsed.events] == ["u0", "u1"]
    assert len(parsed.refused) == 1
    assert parsed.refused[0].startswith("events[1]: environment")
