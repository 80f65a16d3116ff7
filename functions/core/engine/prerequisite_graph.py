"""The prerequisite graph of one environment: which flags require which. Pure: the
services read the edges from the stored rules and ask these questions before a write.

Edges go from a flag to the flags its rule document lists as prerequisites. Writes keep
the graph acyclic, ``depth`` (flags below a flag, along its longest chain) and
``evaluations`` (flags decided to decide it: every prerequisite, and theirs, counted
each time it is reached) within the caps of ``limits``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Edges = Mapping[str, Sequence[str]]


def find_cycle(edges: Edges, start: str) -> list[str] | None:
    """A path from ``start`` back to itself (``["a", "b", "a"]``), or None."""
    path: list[str] = [start]
    done: set[str] = set()
    # iterative depth-first search: each stack entry is a node and its next child index
    stack: list[tuple[str, int]] = [(start, 0)]
    on_path = {start}
    while stack:
        node, index = stack[-1]
        children = edges.get(node, ())
        if index >= len(children):
            stack.pop()
            on_path.discard(node)
            path.pop()
            done.add(node)
            continue
        stack[-1] = (node, index + 1)
        nxt = children[index]
        if nxt == start:
            return [*path, start]
        if nxt in on_path or nxt in done:
            continue
        stack.append((nxt, 0))
        on_path.add(nxt)
        path.append(nxt)
    return None


def measures(edges: Edges) -> dict[str, tuple[int, int]]:
    """``flag -> (depth, evaluations)`` for every flag with prerequisites (acyclic edges)."""
    found: dict[str, tuple[int, int]] = {}

    def measure(node: str, seen: frozenset[str]) -> tuple[int, int]:
        known = found.get(node)
        if known is not None:
            return known
        depth, evaluations = 0, 0
        for child in edges.get(node, ()):
            if child in seen:  # a cycle: refused elsewhere, never measured forever
                continue
            below = measure(child, seen | {child})
            depth = max(depth, below[0] + 1)
            evaluations += below[1] + 1
        found[node] = (depth, evaluations)
        return found[node]

    for node in list(edges):
        measure(node, frozenset({node}))
    return {node: found[node] for node in edges if edges[node]}
