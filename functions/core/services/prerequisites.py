"""Prerequisites across flags, checked the same way by every write that can change them:
a rule written through the API, a promotion, an import; and the flags they name, which
cannot be deleted or archived while required.

A rule document's prerequisites must name flags that exist, are not archived and have
the listed variants; the environment's graph of prerequisites must stay free of cycles
(422 `prerequisite_cycle` whose `cycle` is the path, e.g. `["a", "b", "a"]`) and within
the chain caps of `engine.limits` (422 `limit_exceeded`). Writes that add prerequisites
take the environment's prerequisite lock first, so two of them cannot each add half of
a cycle; the required flags are share-locked until the write commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from functions.core.adapters.db import Connection
from functions.core.engine import limits
from functions.core.engine.prerequisite_graph import find_cycle, measures
from functions.core.errors import FlagRequired, LimitExceeded, PrerequisiteCycle, Unprocessable
from functions.core.mappers.definitions import flag_definition
from functions.core.stores import flags as flag_store
from functions.core.stores import rules as rule_store


def listed(rules: Any) -> list[tuple[str, list[str]]]:
    """`(flag, variants)` of a canonical rule document's prerequisites."""
    items = rules.get("prerequisites") if isinstance(rules, Mapping) else None
    return [(item["flag"], list(item["variants"])) for item in items or []]


def check_rule(
    conn: Connection, flag_name: str, environment: str, rules: Any, *, path: str
) -> None:
    """Refuse a canonical rule document whose prerequisites do not hold (see the module).

    `path` roots the error's `field` (`$.rules`: `$.rules.prerequisites[0].flag`).
    """
    wanted = listed(rules)
    if not wanted:
        return
    rule_store.lock_prerequisites(conn, environment)
    found = flag_store.definitions_for_prerequisites(conn, [name for name, _ in wanted])
    _check_targets(wanted, found, path=path)
    edges: dict[str, Sequence[str]] = dict(rule_store.prerequisite_edges(conn, environment))
    edges[flag_name] = [name for name, _ in wanted]
    check_graph(edges, [flag_name], path=path, environment=environment)


def _check_targets(
    wanted: Sequence[tuple[str, Sequence[str]]],
    found: Mapping[str, Mapping[str, Any]],
    *,
    path: str,
) -> None:
    for index, (name, variants) in enumerate(wanted):
        at = f"{path}.prerequisites[{index}]"
        row = found.get(name)
        if row is None:
            raise Unprocessable(
                f"invalid rules: prerequisite flag '{name}' does not exist", field=f"{at}.flag"
            )
        if row.get("archived"):
            raise Unprocessable(
                f"invalid rules: prerequisite flag '{name}' is archived", field=f"{at}.flag"
            )
        definition = flag_definition(name=name, fields=row)
        for position, variant in enumerate(variants):
            if variant not in definition.variants:
                raise Unprocessable(
                    f"invalid rules: flag '{name}' has no variant '{variant}'"
                    f" (it has {', '.join(sorted(definition.variants))})",
                    field=f"{at}.variants[{position}]",
                )


def check_graph(
    edges: Mapping[str, Sequence[str]],
    changed: Iterable[str],
    *,
    path: str,
    environment: str,
) -> None:
    """No cycle through a changed flag, and every chain within the caps."""
    for flag in changed:
        cycle = find_cycle(edges, flag)
        if cycle is not None:
            first = list(edges.get(flag, ())).index(cycle[1])
            raise PrerequisiteCycle(
                f"prerequisites would make flag '{flag}' require itself in environment"
                f" '{environment}': {' -> '.join(cycle)}",
                field=f"{path}.prerequisites[{first}].flag",
                cycle=cycle,
                environment=environment,
            )
    for flag, (depth, evaluations) in sorted(measures(edges).items()):
        try:
            limits.check_prerequisite_chain(flag, depth, evaluations)
        except limits.LimitError as exc:
            raise LimitExceeded(
                f"rules over a limit: {exc.message} in environment '{environment}'"
                f" (limit {exc.limit})",
                field=f"{path}.prerequisites",
                limit=exc.limit,
                maximum=exc.maximum,
                environment=environment,
            ) from None


def refuse_if_required(conn: Connection, flag_name: str, *, doing: str) -> None:
    """409 naming the flags (and environments) whose rules require `flag_name`."""
    users = [
        use for use in rule_store.rules_requiring(conn, flag_name) if use["flag_name"] != flag_name
    ]
    if users:
        flags = sorted({use["flag_name"] for use in users})
        raise FlagRequired(
            f"flag '{flag_name}' is a prerequisite of {', '.join(flags)}: remove it from"
            f" their rules before {doing} it",
            flag_name=flag_name,
            required_by=flags,
            rules=users,
        )


def check_import(
    conn: Connection,
    *,
    environments: Sequence[str],
    desired: Mapping[str, Mapping[str, list[tuple[str, list[str]]]]],
    paths: Mapping[tuple[str, str], str],
    definitions: Mapping[str, tuple[frozenset[str], bool]],
    archiving: Iterable[str],
    lock: bool,
) -> None:
    """An import's prerequisites, as the document leaves each environment it covers.

    `desired`: environment -> flag -> its prerequisites, for every flag of the document
    (a flag without rule maps to none); every other flag loses its rule in the covered
    environments (or is deleted). `definitions`: flag -> (variants, archived) after the
    import; `paths`: (environment, flag) -> the document path of that rule. A flag the
    document archives that an uncovered environment's stored rule requires: 409.
    """
    covered = set(environments)
    for environment in environments:
        wanted = desired.get(environment, {})
        if lock and any(wanted.values()):
            rule_store.lock_prerequisites(conn, environment)
        edges: dict[str, Sequence[str]] = {}
        for flag, items in wanted.items():
            if not items:
                continue
            path = paths[(environment, flag)]
            for index, (name, variants) in enumerate(items):
                at = f"{path}.prerequisites[{index}]"
                found = definitions.get(name)
                if found is None:
                    raise Unprocessable(
                        f"invalid rules: prerequisite flag '{name}' is not in the document"
                        " nor kept by it",
                        field=f"{at}.flag",
                    )
                if found[1]:
                    raise Unprocessable(
                        f"invalid rules: prerequisite flag '{name}' is archived", field=f"{at}.flag"
                    )
                for position, variant in enumerate(variants):
                    if variant not in found[0]:
                        raise Unprocessable(
                            f"invalid rules: flag '{name}' has no variant '{variant}'",
                            field=f"{at}.variants[{position}]",
                        )
            edges[flag] = [name for name, _ in items]
        for flag in edges:  # in the document's order: the first flag of a cycle is blamed
            check_graph(edges, [flag], path=paths[(environment, flag)], environment=environment)
    archived = set(archiving)
    if not archived:
        return
    for flag in sorted(archived):
        users = [
            use
            for use in rule_store.rules_requiring(conn, flag)
            if use["environment"] not in covered
        ]
        if users:
            flags = sorted({use["flag_name"] for use in users})
            raise FlagRequired(
                f"flag '{flag}' is a prerequisite of {', '.join(flags)} in environments the"
                " document does not cover: remove it from their rules before archiving it",
                flag_name=flag,
                required_by=flags,
                rules=users,
            )
