"""Sealing and opening event packs: what crosses SQS between evaluation and analytics."""

from __future__ import annotations

import base64
import json
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
    assert opened.events == [json.loads(event) for event in events]


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
        (zlib.compress(b'{"events": []}'), "JSON array"),
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
