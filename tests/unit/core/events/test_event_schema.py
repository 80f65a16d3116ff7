"""The event schema analytics and producers agree on."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from functions.commands.schemas import PUBLISHED, render
from functions.core.events.schema import (
    EvaluationEvent,
    InvalidEventBody,
    encode_evaluation,
    event_id,
    format_timestamp,
    new_event,
    new_id_prefix,
    parse_body,
)

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


@pytest.mark.parametrize(
    ("user_id", "environment", "variant"),
    [
        ("user-1", "production", "on"),
        ('quote " backslash \\ slash /', None, None),
        ("ünïcødé ✓ 𝄞", "staging", "variant-b"),
        ("control \n\t\x00\x1f", "production", "v"),
    ],
)
def test_encode_evaluation__any_text__same_document_as_json_dumps(
    user_id: str, environment: str | None, variant: str | None
) -> None:
    # Given the fields of one event, some needing escapes
    identifier, timestamp = event_id(new_id_prefix(), 7), format_timestamp(1_764_669_600.123)
    # When encoded by the producer's writer
    text = encode_evaluation(
        event_id=identifier,
        timestamp=timestamp,
        user_id=user_id,
        flag_name="checkout_v2",
        result=True,
        environment=environment,
        variant=variant,
        reason="SPLIT",
    )
    # Then it is the document json.dumps writes, ASCII (length = bytes), valid for analytics
    fields = {
        "event_id": identifier,
        "user_id": user_id,
        "flag_name": "checkout_v2",
        "result": True,
        "timestamp": timestamp,
        "environment": environment,
        "variant": variant,
        "reason": "SPLIT",
    }
    assert json.loads(text) == fields
    assert text == json.dumps(fields, separators=(",", ":"))
    assert text.isascii()
    assert EvaluationEvent.model_validate_json(text).user_id == user_id


@pytest.mark.parametrize(
    "seconds", [0.0, 1_764_669_600.0, 1_764_669_600.999, 1_764_669_601.0005, 4_102_444_799.5]
)
def test_format_timestamp__epoch_seconds__iso_utc_milliseconds_like_new_event(
    seconds: float,
) -> None:
    # Given / When
    text = format_timestamp(seconds)
    # Then it is what datetime writes, cut to milliseconds, with Z
    moment = datetime.fromtimestamp(int(seconds * 1000) / 1000, UTC)
    assert text == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_event_id__prefix_and_counter__distinct_version_4_uuids() -> None:
    # Given two processes' prefixes
    first, second = new_id_prefix(), new_id_prefix()
    # When each mints ids from its counter
    ids = [event_id(prefix, n) for prefix in (first, second) for n in range(1, 1_001)]
    # Then they are all distinct UUIDs of version 4
    assert len(set(ids)) == 2_000
    assert {uuid.UUID(value).version for value in ids} == {4}
