"""A notice is parsed strictly: anything that is not exactly a notice is None, so a
reader ignores it (and its periodic version check catches up whatever it meant)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from functions.core.keys.signing import KEYS_COPY, NOTICE, Signer
from functions.core.snapshot import notices
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


KEY_CHANGE = {"kind": "key", "key": "12", "environment": None, "document": None}
SIGNER = Signer(secrets.token_hex(32))


def test_parse_notice__keys_source_signed__key_changes_accepted() -> None:
    # Given a key notice sealed with the functions' secret
    raw = SIGNER.seal(NOTICE, json.dumps(_raw(source="keys", changes=[KEY_CHANGE])).encode())
    # When a reader with that secret parses it
    notice = parse_notice(raw, SIGNER)
    # Then it is the notice
    assert notice is not None
    assert notice.changes == (NoticeChange("key", "12", None, None),)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(json.dumps(_raw(source="keys", changes=[KEY_CHANGE])).encode(), id="unsigned"),
        pytest.param(
            Signer(secrets.token_hex(32)).seal(
                NOTICE, json.dumps(_raw(source="keys", changes=[KEY_CHANGE])).encode()
            ),
            id="another secret",
        ),
        pytest.param(
            SIGNER.seal(NOTICE, json.dumps(_raw(source="keys", changes=[KEY_CHANGE])).encode())[:-2]
            + b"}}",
            id="payload changed after signing",
        ),
        pytest.param(
            SIGNER.seal(KEYS_COPY, json.dumps(_raw(source="keys", changes=[KEY_CHANGE])).encode()),
            id="signed for another purpose",
        ),
        pytest.param(b"tm1.zz." + json.dumps(_raw(source="keys")).encode(), id="malformed seal"),
    ],
)
def test_parse_notice__key_notice_not_signed_by_the_secret__ignored_and_logged(
    raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a key notice a Redis writer without the secret could publish
    notices._ignored_logged_at.clear()
    # When a reader parses it
    notice = parse_notice(raw, SIGNER)
    # Then it is ignored, and a warning says so without the notice's content
    assert notice is None
    assert [r.getMessage() for r in caplog.records] == ["change notice ignored"]
    assert '"12"' not in caplog.text


def test_parse_notice__config_notice_unsigned__still_accepted() -> None:
    assert parse_notice(json.dumps(_raw()), SIGNER) is not None


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
