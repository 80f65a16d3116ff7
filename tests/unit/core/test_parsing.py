"""Untrusted documents: what no layer below should ever see."""

from __future__ import annotations

import time

import pytest
import yaml

from functions.core import yaml_loader
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


def test_parse_yaml__libyaml_installed__parsed_by_the_c_loader() -> None:
    # Given the installation's PyYAML (built with libyaml here)
    # When / Then: the loader is libyaml's, with the safe constructor
    assert yaml.__with_libyaml__
    assert issubclass(yaml_loader._Loader, yaml.CSafeLoader)


@pytest.mark.parametrize(
    "raw",
    [
        b"a: &a x\nb: *a\n",  # an alias of a scalar
        b"base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",  # a merge key naming an anchor
        # merges doubling at each level: 2**40 entries were it expanded
        b"m0: &m0 {a: 1, b: 2}\n"
        + b"".join(f"m{i}: &m{i}\n  <<: [*m{i - 1}, *m{i - 1}]\n".encode() for i in range(1, 41)),
    ],
)
def test_parse_yaml__aliases_and_merges_of_anchors__refused_at_once(raw: bytes) -> None:
    # Given / When
    started = time.process_time()
    with pytest.raises(BadRequest, match="aliases are not accepted"):
        parse_yaml(raw)
    # Then nothing was expanded
    assert time.process_time() - started < 1


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"!!python/object/apply:os.system ['true']", "not valid YAML"),
        (b"x: !!python/name:os.system", "not valid YAML"),
        ("".join(f"{' ' * i}a:\n" for i in range(200)).encode() + b" " * 200 + b"b: 1\n", "deeper"),
        (b"- " * 2000 + b"1", "not valid YAML"),
    ],
)
def test_parse_yaml__tags_or_deep_nesting__400(raw: bytes, fragment: str) -> None:
    # Given / When / Then
    with pytest.raises(BadRequest, match=fragment):
        parse_yaml(raw)


def test_parse_yaml__inline_merge_and_anchor_without_alias__parsed_as_the_pure_loader_does() -> (
    None
):
    # Given a document with an inline merge, an unused anchor and YAML 1.1 scalars
    raw = b"a: &unused {x: 1}\nb:\n  <<: {y: 2}\n  z: [yes, off, 0x1F, 2024-01-02, ~]\n"
    # When / Then
    assert parse_yaml(raw) == yaml.safe_load(raw)
