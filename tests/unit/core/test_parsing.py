"""Untrusted documents: what no layer below should ever see."""

from __future__ import annotations

import pytest

from functions.core.errors import BadRequest
from functions.core.parsing import MAX_DEPTH, check_query, parse_json, parse_yaml


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"a":' * (MAX_DEPTH + 2) + b"1" + b"}" * (MAX_DEPTH + 2), "nested deeper"),
        (b'{"name": "a\\u0000b"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'{"user_id": "\\ud800"}', "surrogate"),
        (b'["ok", ["\\udfff"]]', "surrogate"),
        (b"{broken", "not valid JSON"),
    ],
)
def test_parse_json__unsafe_document__400_saying_why(raw: bytes, fragment: str) -> None:
    # Given / When / Then
    with pytest.raises(BadRequest, match=fragment):
        parse_json(raw)


def test_parse_json__ordinary_nesting_and_unicode__accepted() -> None:
    # Given a document of the depth rules use, with non-ASCII text and a valid pair
    raw = ('{"rules": [{"conditions": {"all": [{"not": {"value": "São 😀"}}]}}]}').encode()
    # When / Then
    assert parse_json(raw)["rules"][0]["conditions"]["all"][0]["not"]["value"] == "São 😀"


def test_parse_yaml__alias_bomb__refused_at_once() -> None:
    # Given a few hundred bytes whose aliases would expand to millions of nodes
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8)]
    # When / Then
    with pytest.raises(BadRequest, match="aliases are not accepted"):
        parse_yaml("\n".join(lines).encode())


def test_parse_yaml__plain_document__parsed() -> None:
    # Given / When / Then
    assert parse_yaml(b"version: 1\nflags: []\n") == {"version": 1, "flags": []}


def test_check_query__nul_in_url__400() -> None:
    # Given / When / Then
    with pytest.raises(BadRequest, match="NUL"):
        check_query(["/flags/a\x00b"])
    check_query(["/flags/ok", "environment", "staging"])
