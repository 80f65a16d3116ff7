"""PyYAML's safe loader without aliases, imported by the first YAML body a process reads
(`parsing.parse_yaml`): only flags' import takes YAML, and the functions that never get
one skip PyYAML's few milliseconds at start-up.

A few hundred bytes of nested aliases expand into billions of nodes, so an alias is
refused before anything is built from it; so are the numbers that cost more to build
than their length, or that no later step could write back (`_construct_checked`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

ALIASES_REFUSED = "aliases are not accepted"
BASE_60_REFUSED = (
    "base-60 numbers (such as 1:30) are not accepted; quote the value to keep it as text"
)

_YAML_TAG = "tag:yaml.org,2002:"
_NUMBER_TAGS = frozenset({f"{_YAML_TAG}int", f"{_YAML_TAG}float"})
_CHECKED_TAGS = tuple(f"{_YAML_TAG}{name}" for name in ("int", "float", "bool", "timestamp"))


class DocumentRefused(ValueError):
    """Not a YAML document this loader accepts; the message is the parser's."""


def load(raw: bytes, *, max_depth: int) -> Any:
    """The document's values; RecursionError when it is nested deeper than `max_depth`."""
    loader = _Loader(raw)
    loader.max_depth = max_depth
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise DocumentRefused(str(exc)) from None
    finally:
        loader.dispose()


def _construct_checked(loader: Any, node: Any) -> Any:
    """The safe constructor of a scalar built from its text, refusing with a
    ConstructorError (the 400 its own refusals are) what it answers with a bare
    ValueError, KeyError or AttributeError (`!!int abc`, `!!bool maybe`, `!!timestamp x`),
    and two kinds of numbers:

    - base-60 ones (YAML 1.1's `1:30`, read as 90, and `190:20:30.15`): building one
      multiplies ever longer integers, quadratic in its length (40 s of CPU for 1 MiB),
      and a long float's overflows. Refused rather than left as text: the rest of the
      document is read as YAML 1.1 (`yes`, `0x1F`, as `yaml.safe_load` reads them), and
      reading this one scalar otherwise would silently change what the file says;
      quoted, it is text.
    - integers longer than `sys.get_int_max_str_digits()` digits: int() refuses the
      decimal ones, and the hexadecimal, octal or binary ones it builds could never be
      written back (str() refuses them the same way).

    Only these tags (bool, int, float, timestamp) are wrapped: strings, sequences and
    mappings, most of a document's nodes, are built as before, without a call more."""
    if node.tag in _NUMBER_TAGS and ":" in loader.construct_scalar(node):
        raise ConstructorError(None, None, BASE_60_REFUSED, node.start_mark)
    try:
        value = SafeConstructor.yaml_constructors[node.tag](loader, node)
    except (ValueError, ArithmeticError, LookupError, AttributeError, TypeError) as exc:
        raise ConstructorError(None, None, _refusal(exc, node.tag), node.start_mark) from None
    if type(value) is int and _too_long(value):
        raise ConstructorError(None, None, _too_many_digits(), node.start_mark)
    return value


def _refusal(exc: Exception, tag: str) -> str:
    if "int_max_str_digits" in str(exc):  # int()'s hint is about this process, not the body
        return _too_many_digits()
    return f"not a valid {tag.replace(_YAML_TAG, '!!')} value"


def _too_many_digits() -> str:
    return f"a number has more than {sys.get_int_max_str_digits()} digits"


def _too_long(value: int) -> bool:
    """More decimal digits than str() writes (a bit length alone rules most out)."""
    limit = sys.get_int_max_str_digits()
    return limit > 0 and value.bit_length() > 3 * limit and abs(value) >= 10**limit


class _PureNoAliasLoader(yaml.SafeLoader):
    """The pure-Python loader, for an installation without libyaml: refuses an alias as
    it composes it (its recursion is what caps the depth)."""

    max_depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, ALIASES_REFUSED)
        return super().compose_node(parent, index)


class _CNoAliasLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser (C, about three times the pure loader's speed here) with the safe
    constructor: the same tags, the same values. libyaml caps nesting at 1 000 levels;
    its composer answers an alias with the node it names, so the composed graph is
    walked once before anything is built: a node reached twice is an alias, refused
    before its expansion (or a merge key's copying) costs anything, and one deeper than
    `max_depth` is refused too. Each distinct plain scalar's tag is resolved once (the
    resolver's regular expressions are most of what remains in Python)."""

    max_depth = 0

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            key = (value, implicit)
            tag = self._tags.get(key)
            if tag is None:
                tag = self._tags[key] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_nodes(node, self.max_depth)
        return node


def _check_nodes(root: yaml.Node, max_depth: int) -> None:
    seen: set[int] = {id(root)}
    pending: list[tuple[yaml.Node, int]] = [(root, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > max_depth:
            raise RecursionError
        if isinstance(node, yaml.SequenceNode):
            children: Iterable[yaml.Node] = node.value
        elif isinstance(node, yaml.MappingNode):
            children = (child for pair in node.value for child in pair)
        else:
            continue
        for child in children:
            if id(child) in seen:
                raise yaml.composer.ComposerError(None, None, ALIASES_REFUSED, child.start_mark)
            seen.add(id(child))
            if type(child) is not yaml.ScalarNode:
                pending.append((child, depth + 1))


for _loader in (_PureNoAliasLoader, _CNoAliasLoader):
    for _tag in _CHECKED_TAGS:
        _loader.add_constructor(_tag, _construct_checked)

_Loader: type[_PureNoAliasLoader] = (
    _CNoAliasLoader if getattr(yaml, "__with_libyaml__", False) else _PureNoAliasLoader
)
