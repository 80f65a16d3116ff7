"""Untrusted request documents (JSON or YAML) turned into plain values, safely.

Checked once here so no layer below has to: nesting depth (deep documents exhaust
the parser's and the validators' recursion), NUL characters (PostgreSQL refuses them
in text), unpaired surrogates (`"\\ud800"` is valid JSON but not storable UTF-8), and
YAML aliases (a few hundred bytes of nested aliases expand into billions of nodes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from functions.core.errors import BadRequest
from functions.core.memory import collector_paused

MAX_DEPTH = 64


def parse_json(raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    check_values(document)
    return document


ALIASES_REFUSED = "aliases are not accepted"


class _PureNoAliasLoader(yaml.SafeLoader):
    """The pure-Python loader, for an installation without libyaml: refuses an alias as
    it composes it."""

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
    `MAX_DEPTH` is refused too. Each distinct plain scalar's tag is resolved once (the
    resolver's regular expressions are most of what remains in Python)."""

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
            _check_nodes(node)
        return node


def _check_nodes(root: yaml.Node) -> None:
    seen: set[int] = {id(root)}
    pending: list[tuple[yaml.Node, int]] = [(root, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
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


_Loader: type[yaml.SafeLoader] = (
    _CNoAliasLoader if getattr(yaml, "__with_libyaml__", False) else _PureNoAliasLoader
)


def parse_yaml(raw: bytes) -> Any:
    """With the garbage collector paused: the nodes and values of a large document are
    a few hundred thousand objects, and the collector's passes over them made parsing
    grow faster than the document (about twice the time at 1 MiB)."""
    try:
        with collector_paused():
            document = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a safe loader
    except RecursionError:
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        raise BadRequest(f"the body is not valid YAML: {exc}") from None
    check_values(document)
    return document


def check_values(document: Any) -> None:
    """Refuse what no store can keep, walking iteratively (depth is what is checked)."""
    pending: list[tuple[Any, int, str]] = [(document, 0, "$")]
    while pending:
        value, depth, path = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels", field=path)
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(str(key), path)
                pending.append((item, depth + 1, f"{path}.{key}"))
        elif isinstance(value, list):
            pending.extend(_items(value, depth, path))


def _items(values: list[Any], depth: int, path: str) -> Iterable[tuple[Any, int, str]]:
    return ((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(values))


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise BadRequest("text may not contain NUL characters", field=path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("text contains an unpaired UTF-16 surrogate", field=path) from None


def check_query(values: Iterable[str]) -> None:
    """Path and query strings: werkzeug has decoded them; NUL may still be there."""
    for value in values:
        if "\x00" in value:
            raise BadRequest("the URL may not contain NUL characters (%00)")
