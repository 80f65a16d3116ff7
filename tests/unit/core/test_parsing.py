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


@pytest.mark.parametrize("raw", [b"1" * 4301, b'{"rollout": [-' + b"9" * 1_000_000 + b"]}"])
def test_parse_json__number_longer_than_int_limit__400_without_pythons_hint(raw: bytes) -> None:
    # Given a number int() refuses to read (more than sys.get_int_max_str_digits() digits)
    # When
    with pytest.raises(
        BadRequest, match="not valid JSON: a number has more than 4300 digits"
    ) as refused:
        parse_json(raw)
    # Then the answer says so, without the hint about this process's setting
    assert "sys." not in str(refused.value)


def test_parse_json__number_of_4300_digits__accepted() -> None:
    # Given / When / Then
    assert parse_json(b"9" * 4300) == 10**4300 - 1


@pytest.fixture(params=["libyaml", "pure"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both loaders: the pure one answers where libyaml is not installed."""
    if request.param == "pure":
        monkeypatch.setattr(yaml_loader, "_Loader", yaml_loader._PureNoAliasLoader)


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    "raw",
    [
        b"version: 1:30\n",
        b"version: -1:30:00\n",
        b"version: 190:20:30.15\n",
        b"version: !!int 1:30\n",
        b"version: !!float 1:30\n",
        b"1:30: time\n",
    ],
)
def test_parse_yaml__base_60_number__400(raw: bytes) -> None:
    # Given / When / Then
    with pytest.raises(BadRequest, match="base-60 numbers"):
        parse_yaml(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"version: 1" + b":59" * 340_000 + b"\n",  # 1 MiB: 40 s of CPU to build as an int
        b"version: 1" + b":59" * 340_000 + b".5\n",
    ],
)
def test_parse_yaml__long_base_60_number__refused_at_once(raw: bytes) -> None:
    # Given / When
    started = time.process_time()
    with pytest.raises(BadRequest, match="base-60 numbers"):
        parse_yaml(raw)
    # Then nothing was multiplied out
    assert time.process_time() - started < 1


@pytest.mark.usefixtures("loader")
def test_parse_yaml__quoted_base_60_form__text() -> None:
    # Given / When / Then
    assert parse_yaml(b"version: '1:30'\nat: \"12:00:00\"\n") == {
        "version": "1:30",
        "at": "12:00:00",
    }


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    "raw",
    [
        b"rollout: " + b"1" * 4301,
        b"rollout: -" + b"1_" * 4301,
        b"rollout: 0x" + b"f" * 5000,  # built by int(), never written back by str()
        f"rollout: {hex(10**4300)}".encode(),
        b"rollout: 0b" + b"1" * 15_000,
        b"rollout: 0" + b"7" * 5000,
        b"rollout: !!int 0o" + b"7" * 6000,
        b"? 0x" + b"f" * 5000 + b"\n: key\n",
    ],
)
def test_parse_yaml__integer_longer_than_int_limit__400(raw: bytes) -> None:
    # Given an integer of more than sys.get_int_max_str_digits() decimal digits
    # When / Then
    with pytest.raises(BadRequest, match="a number has more than 4300 digits"):
        parse_yaml(raw)


@pytest.mark.usefixtures("loader")
def test_parse_yaml__numbers_at_the_limit__parsed_as_the_pure_loader_does() -> None:
    # Given the longest integers str() writes, and floats too large for a double
    raw = f"a: {'9' * 4300}\nb: {hex(10**4300 - 1)}\nc: 1.0e+999\nd: {'1' * 5000}.0\n".encode()
    # When / Then
    assert (
        parse_yaml(raw)
        == yaml.safe_load(raw)
        == {"a": 10**4300 - 1, "b": 10**4300 - 1, "c": float("inf"), "d": float("inf")}
    )


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"v: !!int ''", "not a valid !!int value"),
        (b"v: !!int abc", "not a valid !!int value"),
        (b"v: !!int 0x", "not a valid !!int value"),
        (b"v: !!int 0b102", "not a valid !!int value"),
        (b"v: !!int 0999", "not a valid !!int value"),
        (b"v: !!float ''", "not a valid !!float value"),
        (b"v: !!float 0x10", "not a valid !!float value"),
        (b"v: !!bool maybe", "not a valid !!bool value"),
        (b"v: !!timestamp soon", "not a valid !!timestamp value"),
        (b"v: !!timestamp 2024-13-01", "not a valid !!timestamp value"),
        (b"v: !!timestamp 0000-01-01", "not a valid !!timestamp value"),
        (b"v: !!timestamp 2024-01-01 10:00:00 +99:00", "not a valid !!timestamp value"),
    ],
)
def test_parse_yaml__scalar_its_tag_cannot_build__400(raw: bytes, fragment: str) -> None:
    # Given a scalar PyYAML's constructor answers with a ValueError, KeyError or AttributeError
    # When
    with pytest.raises(BadRequest, match=fragment) as refused:
        parse_yaml(raw)
    # Then the 400 (not a 500) names the tag and where the scalar is
    assert "line 1, column 4" in str(refused.value)
