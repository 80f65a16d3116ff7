"""A notice is parsed strictly: anything that is not exactly a notice is None, so a
reader ignores it (and its periodic version check catches up whatever it meant)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.snapshot.notices import Notice, NoticeChange, parse_notice


def _raw(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "config",
        "epoch": "0d1f",
        "version": 7,
        "changes": [{"kind": "flag", "key": "x", "environment": None, "document": {"name": "x"}}],
        "complete": True,
    }
    body.update(changes)
    return body


def test_parse_notice__bytes_of_a_notice__the_notice() -> None:
    raw = json.dumps(_raw()).encode()
    assert parse_notice(raw) == Notice(
        "config", "0d1f", 7, (NoticeChange("flag", "x", None, {"name": "x"}),), True
    )


def test_parse_notice__keys_source__key_changes_accepted() -> None:
    change = {"kind": "key", "key": "12", "environment": None, "document": None}
    notice = parse_notice(json.dumps(_raw(source="keys", changes=[change])))
    assert notice is not None
    assert notice.changes == (NoticeChange("key", "12", None, None),)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe", id="not UTF-8"),
        pytest.param("{", id="not JSON"),
        pytest.param("[]", id="not an object"),
        pytest.param(json.dumps(_raw(source="flags")), id="unknown source"),
        pytest.param(json.dumps(_raw(epoch="")), id="empty epoch"),
        pytest.param(json.dumps(_raw(epoch=3)), id="epoch not a string"),
        pytest.param(json.dumps(_raw(version="7")), id="version a string"),
        pytest.param(json.dumps(_raw(version=True)), id="version a boolean"),
        pytest.param(json.dumps(_raw(version=-1)), id="negative version"),
        pytest.param(json.dumps(_raw(version=1.5)), id="fractional version"),
        pytest.param(json.dumps(_raw(complete="yes")), id="complete not a boolean"),
        pytest.param(json.dumps(_raw(changes={})), id="changes not a list"),
        pytest.param(json.dumps(_raw(changes=["x"])), id="change not an object"),
        pytest.param(
            json.dumps(_raw(changes=[{"kind": "key", "key": "1"}])), id="kind of another source"
        ),
        pytest.param(json.dumps(_raw(changes=[{"kind": "flag", "key": ""}])), id="empty key"),
        pytest.param(
            json.dumps(_raw(changes=[{"kind": "flag", "key": "x", "environment": 3}])),
            id="environment not a string",
        ),
        pytest.param(
            json.dumps(_raw(changes=[{"kind": "flag", "key": "x", "document": [1]}])),
            id="document not an object",
        ),
    ],
)
def test_parse_notice__malformed__none(raw: bytes | str) -> None:
    assert parse_notice(raw) is None
