"""The event schema analytics and producers agree on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from functions.core.events import (
    InvalidEventBody,
    new_event,
    parse_body,
)
from functions.core.schemas import PUBLISHED, render

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
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
    assert first[0] is None
    assert len(first[1]) == 1
    assert first[1][0].event_id == second[1][0].event_id


def test_parse_body__pack__every_event_keeps_its_id() -> None:
    # Given a pack of two producer-made events
    events = [
        new_event(
            user_id=f"u{i}",
            flag_name="f",
            result=True,
            environment="production",
            variant="on",
            reason="DEFAULT",
        )
        for i in range(2)
    ]
    body = json.dumps({"pack_id": "p-1", "events": events})
    # When it is parsed
    pack_id, parsed = parse_body(body)
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


@pytest.mark.parametrize(("name", "model"), sorted(PUBLISHED.items()))
def test_published_schema__models__match_events_folder(name: str, model: type[BaseModel]) -> None:
    # Given the schema published under events/
    published = (EVENTS_DIR / f"{name}.schema.json").read_text()
    # When / Then it is what the model produces today (run `make schemas` after a change)
    assert published == render(model)


@pytest.mark.parametrize("sample", sorted((EVENTS_DIR / "samples").glob("*.json")))
def test_samples__events_folder__parse(sample: Path) -> None:
    # Given / When / Then every sample body is accepted by analytics
    _, events = parse_body(sample.read_bytes())
    assert events
