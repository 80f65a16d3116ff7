"""The event schema analytics and producers agree on."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from functions.commands.schemas import PUBLISHED, render
from functions.core.events import packs
from functions.core.events.schema import (
    EvaluationEvent,
    InvalidEventBody,
    UnsignedEventBody,
    encode_evaluation,
    event_id,
    format_timestamp,
    new_event,
    new_id_prefix,
    parse_body,
)
from functions.core.keys.signing import Signer

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


ROWS_SIGNER = Signer("rows-" + "0123456789abcdef" * 3)
PREFIX = "4c8e3f0e-8a55-4d4e-9d0c-"
MOMENT = 1_795_514_400.1204817
"""2026-11-24T10:00:00.120Z"""


def _row(n: int, **changes: object) -> list[object]:
    fields: dict[str, object] = {
        "sequence": n,
        "time": MOMENT + n,
        "user_id": f"user-{n}",
        "flag_name": "checkout_v2",
        "result": n % 2 == 0,
        "environment": "production",
        "variant": "on",
        "reason": "SPLIT",
        "request_id": None,
        **changes,
    }
    return [fields[name] for name in packs.ROWS_COLUMNS]


def _rows_body(rows: list[Any], *, count: int | None = None, **payload: object) -> str:
    document = {
        "format": "rows",
        "id_prefix": PREFIX,
        "columns": list(packs.ROWS_COLUMNS),
        "rows": rows,
        **payload,
    }
    return packs.seal_payload(
        "p-rows",
        len(rows) if count is None else count,
        json.dumps(document).encode(),
        ROWS_SIGNER,
    )


def test_parse_body__rows_pack__events_with_prefix_ids_and_millisecond_timestamps() -> None:
    # Given a signed rows pack: one row with a request id, one without and no variant
    big = 0x1_0000_0000_0002  # ids keep the counter's low 48 bits
    body = _rows_body([_row(1, request_id="req-1"), _row(big, time=MOMENT + 2, variant=None)])
    # When analytics reads it
    parsed = parse_body(body, signer=ROWS_SIGNER)
    # Then the events are those format 1 carries for the same decisions
    assert parsed.pack_id == "p-rows" and parsed.signed and parsed.refused == []
    assert [e.model_dump(exclude_none=True) for e in parsed.events] == [
        {
            "event_id": f"{PREFIX}000000000001",
            "user_id": "user-1",
            "flag_name": "checkout_v2",
            "result": False,
            "timestamp": "2026-11-24T10:00:01.120Z",
            "environment": "production",
            "variant": "on",
            "reason": "SPLIT",
            "request_id": "req-1",
        },
        {
            "event_id": f"{PREFIX}000000000002",
            "user_id": f"user-{big}",
            "flag_name": "checkout_v2",
            "result": True,
            "timestamp": "2026-11-24T10:00:02.120Z",
            "environment": "production",
            "reason": "SPLIT",
        },
    ]


def test_parse_body__rows_columns_reordered_added_or_optional_left_out__mapped_by_name() -> None:
    # Given a later producer's rows: columns in another order, one more, no request_id
    columns = ["region", "user_id", "result", "time", "flag_name", "sequence", "reason"]
    rows = [["eu", "user-7", True, MOMENT, "dark_mode", 7, "STATIC"]]
    body = _rows_body(rows, columns=columns)
    # When / Then each value is read by its column's name, the unknown one ignored
    (event,) = parse_body(body, signer=ROWS_SIGNER).events
    assert event.model_dump(exclude_none=True) == {
        "event_id": f"{PREFIX}000000000007",
        "user_id": "user-7",
        "flag_name": "dark_mode",
        "result": True,
        "timestamp": "2026-11-24T10:00:00.120Z",
        "reason": "STATIC",
    }


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"x": 1}, "an array of 9 values is required"),
        (_row(2)[:-1], "an array of 9 values is required"),
        ([*_row(2), None], "an array of 9 values is required"),
        (_row(2, sequence="2"), "sequence: an integer is required"),
        (_row(2, sequence=True), "sequence: an integer is required"),
        (_row(2, time="2026-11-24T10:00:00Z"), "time: epoch seconds are required"),
        (_row(2, time=False), "time: epoch seconds are required"),
        (_row(2, time=float("nan")), "time: epoch seconds within the calendar"),
        (_row(2, time=1e300), "time: epoch seconds within the calendar"),
        (_row(2, result="yes"), "result"),
        (_row(2, user_id=None), "user_id"),
        (_row(2, flag_name=""), "flag_name"),
        (_row(2, environment="p" * 600), "environment"),
        (_row(2, request_id=7), "request_id"),
    ],
)
def test_parse_body__rows_pack_with_one_bad_row__others_kept_bad_one_reported(
    bad: object, problem: str
) -> None:
    # Given a signed rows pack whose second row makes no valid event
    body = _rows_body([_row(1), bad, _row(3)])
    # When it is parsed
    parsed = parse_body(body, signer=ROWS_SIGNER)
    # Then the two good rows are events and the bad one is named by its index
    assert [e.user_id for e in parsed.events] == ["user-1", "user-3"]
    assert len(parsed.refused) == 1
    assert parsed.refused[0].startswith(f"rows[1]: {problem}"), parsed.refused


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_rows_body([_row(1), _row(2)], count=3), id="count not the rows"),
        pytest.param(_rows_body([_row(1)], format="rows/2"), id="unknown format"),
        pytest.param(
            _rows_body([_row(1)[1:]], columns=list(packs.ROWS_COLUMNS[1:])), id="no sequence"
        ),
        pytest.param(_rows_body([_row(1)], id_prefix=None), id="no id prefix"),
        pytest.param(
            packs.seal_payload("p", 1, b'"rows"', ROWS_SIGNER), id="payload not an object"
        ),
        pytest.param(_rows_body([{"x": 1}]), id="no readable row"),
    ],
)
def test_parse_body__rows_pack_malformed__refused_whole(body: str) -> None:
    # Given / When / Then
    with pytest.raises(InvalidEventBody):
        parse_body(body, signer=ROWS_SIGNER)


def test_parse_body__rows_pack_under_another_secret__unsigned_body() -> None:
    # Given / When / Then a rows pack is trusted only under the events secret
    with pytest.raises(UnsignedEventBody):
        parse_body(_rows_body([_row(1)]), signer=Signer("another-" + "fedcba9876543210" * 3))
