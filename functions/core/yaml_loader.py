"""PyYAML's safe loader without aliases, imported by the first YAML body a process reads
(`parsing.parse_yaml`): only flags' import takes YAML, and the functions that never get
one skip PyYAML's few milliseconds at start-up.

A few hundred bytes of nested aliases expand into billions of nodes, so an alias is
refused before anything is built from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

ALIASES_REFUSED = "aliases are not accepted"


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


_Loader: type[_PureNoAliasLoader] = (
    _CNoAliasLoader if getattr(yaml, "__with_libyaml__", False) else _PureNoAliasLoader
)
