"""The protocol-neutral request and response every route sees."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from functions.http.messages import Headers, QueryArgs, Request, Response


@pytest.mark.parametrize(
    "query",
    [
        "",
        "a=1",
        "a=1&&b=2",
        "a",
        "a=",
        "=x",
        "a=1&a=2&b=3",
        "q=hello+world",
        "q=%E2%82%AC",
        "q=%ZZ",
        "q=%ff%fe",
        "a=b=c",
        "&&",
        "x=%2B+%26",
        "é=1",
        "a%00=b",
    ],
)
def test_query_args__any_query__what_parse_qsl_answers(query: str) -> None:
    # Given / When
    args = QueryArgs.parse(query)
    # Then every pair, decoded and in order, as the standard library parses it
    expected = parse_qsl(query, keep_blank_values=True, errors="replace")
    assert list(args.items(multi=True)) == expected
    assert args == QueryArgs(expected)


def test_query_args__repeated_name__first_by_get_all_by_getlist() -> None:
    # Given
    args = QueryArgs.parse("tag=a&user_id=u&tag=b&empty=")
    # When / Then
    assert args.get("tag") == "a"
    assert args.getlist("tag") == ["a", "b"]
    assert args.getlist("nothing") == []
    assert args.get("nothing") is None
    assert args.get("nothing", "x") == "x"
    assert args.get("empty") == ""
    assert list(args.items()) == [("tag", "a"), ("user_id", "u"), ("empty", "")]
    assert list(args) == ["tag", "user_id", "empty"]
    assert "user_id" in args
    assert len(args) == 3


def test_headers__any_case__one_value_repeated_ones_joined() -> None:
    # Given
    headers = Headers.of([("Content-Type", "a/b"), ("Accept", "x"), ("ACCEPT", "y")])
    # When / Then
    assert headers.get("content-type") == "a/b"
    assert headers["CONTENT-TYPE"] == "a/b"
    assert headers.get("accept") == "x, y"
    assert "Accept" in headers
    assert "missing" not in headers
    assert headers.get("missing") is None
    assert dict(headers) == {"content-type": "a/b", "accept": "x, y"}
    with pytest.raises(KeyError):
        headers["missing"]


@pytest.mark.parametrize(
    ("headers", "mimetype", "length"),
    [
        ({}, "", None),
        ({"content-type": "Application/JSON; charset=utf-8"}, "application/json", None),
        ({"content-type": "text/yaml", "content-length": "12"}, "text/yaml", 12),
        ({"content-length": "twelve"}, "", None),
        ({"content-length": "-1"}, "", None),
    ],
)
def test_request__content_headers__read(
    headers: dict[str, str], mimetype: str, length: int | None
) -> None:
    # Given / When
    request = Request("POST", "/", headers=Headers(headers))
    # Then
    assert request.mimetype == mimetype
    assert request.content_length == length
    assert request.content_type == headers.get("content-type", "")


def test_request__defaults__empty_and_parsed_once() -> None:
    # Given
    request = Request("GET", "/x", query_string="a=1")
    # When / Then
    assert request.body == b""
    assert len(request.headers) == 0
    assert request.args is request.args
    assert request.args.get("a") == "1"


def test_response__text_body__utf8_bytes_and_own_headers() -> None:
    # Given / When
    first = Response("é", 201, media_type="text/plain")
    second = Response()
    first.headers["X"] = "1"
    # Then
    assert first.body == "é".encode()
    assert (first.status, first.media_type) == (201, "text/plain")
    assert (second.body, second.status, second.headers, second.media_type) == (b"", 200, {}, None)


def test_query_args_repeated__names_given_twice__each_once_in_order_they_came() -> None:
    # Given / When a query with names given twice and three times, and one given once
    repeated = QueryArgs.parse("b=1&a=2&b=3&c=4&a=5&b=6").repeated()
    # Then each repeated name once, in the order it first came
    assert repeated == ["b", "a"]
    assert QueryArgs.parse("a=1&b=2").repeated() == []
