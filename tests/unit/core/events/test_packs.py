"""Sealing and opening event packs: what crosses SQS between evaluation and analytics."""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

import pytest

from functions.core.events import packs
from functions.core.events.schema import encode_evaluation, event_id, new_id_prefix
from functions.core.keys.signing import Signer

SECRET = "pack-secret-" + "0123456789abcdef" * 2
SIGNER = Signer(SECRET)


def _events(count: int) -> list[str]:
    prefix = new_id_prefix()
    stamp = "2026-12-03T08:00:00.000Z"
    return [
        encode_evaluation(
            event_id(prefix, n),
            stamp,
            f"user-{n}",
            "checkout",
            n % 3 == 0,
            "production",
            "on" if n % 3 == 0 else "off",
            "SPLIT",
        )
        for n in range(count)
    ]


def _sealed(count: int = 3, signer: Signer | None = SIGNER) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(packs.seal("pack-1", _events(count), signer))
    return document


def test_seal_then_open__same_events_in_order() -> None:
    events = _events(1_000)
    opened = packs.open_pack(json.loads(packs.seal("pack-1", events, SIGNER)), SIGNER)
    assert opened.pack_id == "pack-1" and opened.signed
    assert opened.payload == [json.loads(event) for event in events]


def test_seal__typical_events__compress_at_least_eight_times() -> None:
    events = _events(packs.MAX_EVENTS)
    raw = sum(len(event) + 1 for event in events)
    assert raw / len(packs.seal("pack-1", events, SIGNER)) > 8


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("signature"), "not signed"),
        (lambda d: d.update(signature="0" * 64), "signature is wrong"),
        (lambda d: d.update(pack_id="pack-2"), "signature is wrong"),
        (lambda d: d.update(count=2), "signature is wrong"),
        (lambda d: d.update(events_zlib=_sealed(4)["events_zlib"]), "signature is wrong"),
        (lambda d: d.update(extra=1), "unknown fields"),
        (lambda d: d.update(count=0), "count"),
        (lambda d: d.update(count=True), "count"),
        (lambda d: d.update(pack_id=""), "pack_id"),
        (lambda d: d.update(events_zlib=""), "events_zlib"),
    ],
)
def test_open__tampered_or_malformed__refused(change: Any, problem: str) -> None:
    document = _sealed()
    change(document)
    with pytest.raises(packs.PackError, match=problem):
        packs.open_pack(document, SIGNER)


def test_open__signed_with_another_secret__refused() -> None:
    other = Signer("another-secret-" + "fedcba9876543210" * 2)
    with pytest.raises(packs.PackError, match="signature is wrong"):
        packs.open_pack(_sealed(signer=other), SIGNER)


def _unsigned_with(payload: bytes, count: int = 1) -> dict[str, Any]:
    text = base64.b64encode(payload).decode()
    return {"pack_id": "p", "count": count, "events_zlib": text}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (zlib.compress(b"[" + b" " * (packs.MAX_INFLATED_BYTES + 10) + b"]"), "inflates beyond"),
        (zlib.compress(b'[{"a": 1}]')[:-6], "truncated"),
        (b"not zlib at all", "not a zlib stream"),
        (zlib.compress(b'{"events": []}'), "unknown format"),
        (zlib.compress(b'{"format": "columns", "rows": [[1]]}'), "unknown format: 'columns'"),
        (zlib.compress(b'"rows"'), "JSON array of events or a rows object"),
        (zlib.compress(b"4096"), "JSON array of events or a rows object"),
        (zlib.compress(b"[1, 2"), "does not hold JSON"),
        (zlib.compress(b"[1, 2]"), "count says 1"),
    ],
)
def test_open__payload_unreadable_or_too_large__refused(payload: bytes, problem: str) -> None:
    with pytest.raises(packs.PackError, match=problem):
        packs.open_pack(_unsigned_with(payload), None)


def test_open__not_base64__refused() -> None:
    document = {"pack_id": "p", "count": 1, "events_zlib": "not base64!"}
    with pytest.raises(packs.PackError, match="not base64"):
        packs.open_pack(document, None)


def test_open__a_small_body_of_zeros__never_inflates_past_the_cap() -> None:
    # 1 GB of zeros compresses to about 1 MB: opening stops at the cap, it does not allocate 1 GB
    inflater = zlib.compressobj(9)
    chunk = b"0" * (1 << 20)
    bomb = b"".join(inflater.compress(chunk) for _ in range(64)) + inflater.flush()
    with pytest.raises(packs.PackError, match="inflates beyond"):
        packs.open_pack(_unsigned_with(bomb), None)


PREFIX = "0b8f1a52-55a5-4f0e-8d8c-"


def _rows(count: int) -> list[tuple[object, ...]]:
    return [
        (
            n,
            1_764_669_600.25 + n,
            f"user-{n}",
            "checkout",
            n % 2 == 0,
            "production",
            "on",
            None,
            None,
        )
        for n in range(1, count + 1)
    ]


def test_seal_rows_then_open__rows_as_given_with_prefix_and_columns() -> None:
    # Given rows as evaluation queues them
    rows = _rows(1_000)
    # When sealed and opened with the secret
    opened = packs.open_pack(json.loads(packs.seal_rows("pack-1", PREFIX, rows, SIGNER)), SIGNER)
    # Then the payload holds them as they were, named by the columns
    assert opened.signed and isinstance(opened.payload, packs.Rows)
    assert opened.payload.id_prefix == PREFIX
    assert opened.payload.columns == packs.ROWS_COLUMNS
    assert opened.payload.rows == [list(row) for row in rows]


def test_seal_rows__full_pack_of_typical_rows__one_billed_sqs_request() -> None:
    # Given / When as many rows as a pack may hold, sealed
    body = packs.seal_rows("pack-1", PREFIX, _rows(packs.MAX_EVENTS), SIGNER)
    # Then they fit in the 64 KiB SQS bills as one request
    assert len(body) <= 65_536


def _rows_payload(**changes: object) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "format": "rows",
        "id_prefix": PREFIX,
        "columns": list(packs.ROWS_COLUMNS),
        "rows": [list(row) for row in _rows(2)],
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


@pytest.mark.parametrize(
    ("payload", "count", "problem"),
    [
        (_rows_payload(), 3, "count says 3 events, the payload holds 2"),
        (_rows_payload(format="rows-2"), 2, "unknown format: 'rows-2'"),
        (_rows_payload(format=None), 2, "unknown format: 'None'"),
        (_rows_payload(id_prefix=None), 2, "id_prefix"),
        (_rows_payload(id_prefix=""), 2, "id_prefix"),
        (_rows_payload(id_prefix=7), 2, "id_prefix"),
        (_rows_payload(columns=[c for c in packs.ROWS_COLUMNS if c != "time"]), 2, "'time'"),
        (_rows_payload(columns=None), 2, "columns"),
        (_rows_payload(columns=[*packs.ROWS_COLUMNS, "time"]), 2, "distinct"),
        (_rows_payload(columns=[*packs.ROWS_COLUMNS, 3]), 2, "columns"),
        (_rows_payload(rows={"0": []}), 2, "rows: a list"),
        (_rows_payload(rows=None), 2, "rows: a list"),
    ],
)
def test_open__rows_payload_malformed__refused(
    payload: dict[str, Any], count: int, problem: str
) -> None:
    # Given a signed pack whose rows payload is not what the format says
    body = packs.seal_payload("p", count, json.dumps(payload).encode(), SIGNER)
    # When / Then it is refused whole, saying why
    with pytest.raises(packs.PackError, match=re.escape(problem)):
        packs.open_pack(json.loads(body), SIGNER)


def test_open__rows_with_columns_added_or_optional_ones_left_out__opened() -> None:
    # Given a later producer's payload: one column more, and no request_id column
    columns = [*packs.ROWS_COLUMNS[:-1], "region"]
    payload = _rows_payload(columns=columns, rows=[[*row[:-1], "eu"] for row in _rows(2)])
    body = packs.seal_payload("p", 2, json.dumps(payload).encode(), SIGNER)
    # When / Then it opens (the reader maps the columns it knows)
    opened = packs.open_pack(json.loads(body), SIGNER)
    assert isinstance(opened.payload, packs.Rows)
    assert opened.payload.columns == tuple(columns)
