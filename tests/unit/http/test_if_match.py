"""`If-Match` read from a request: the versions it names, `*`, weak tags, nothing."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.errors import InvalidValue
from functions.core.models.targeting import Segment
from functions.core.services.preconditions import IfMatch, version_of
from functions.http.messages import Headers, Request
from functions.http.requests import if_match


def _request(header: str | None) -> Request:
    headers = {} if header is None else {"if-match": header}
    return Request("PUT", "/segments/beta", headers=Headers(headers))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ('"abc"', IfMatch(versions=frozenset({"abc"}))),
        ('"abc", "def"', IfMatch(versions=frozenset({"abc", "def"}))),
        ("abc", IfMatch(versions=frozenset({"abc"}))),
        ('W/"abc"', IfMatch(versions=frozenset())),
        ('"abc", *', IfMatch(any=True)),
    ],
)
def test_if_match__header__versions_it_names(header: str | None, expected: IfMatch | None) -> None:
    # Given / When / Then
    assert if_match(_request(header)) == expected


@pytest.mark.parametrize("header", ["", " ", ",", " , "])
def test_if_match__names_nothing__422_naming_the_header(header: str) -> None:
    # Given / When / Then
    with pytest.raises(InvalidValue) as refused:
        if_match(_request(header))
    assert refused.value.details["parameter"] == "If-Match"


def test_version_of__same_resource__same_version_and_changes_with_it() -> None:
    # Given a segment as read, and the same with one user more
    fields: dict[str, Any] = {"key": "beta", "name": None, "description": None}
    fields |= {"conditions": None, "included": ["ana"], "excluded": [], "grammar": 2}
    read = Segment.model_validate(
        {**fields, "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z"}
    )
    again = Segment.model_validate(read.model_dump())
    changed = read.model_copy(update={"included": ["ana", "bruno"]})
    # When / Then (a grammar of its own is a change of meaning, so of version too)
    assert version_of(read) == version_of(again)
    assert version_of(read) != version_of(changed)
    assert version_of(read) != version_of(read.model_copy(update={"grammar": 1}))
    assert IfMatch(versions=frozenset({version_of(read)})).holds_for(again)
    assert not IfMatch(versions=frozenset({version_of(read)})).holds_for(changed)
