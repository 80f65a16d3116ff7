"""Export, plan and apply configuration documents (see `models.config_file`).

A plan lists, per flag and environment, what importing would do: created, changed
(with the differences), deleted or unchanged. Applying recomputes the plan inside
the transaction that carries it out, so it never acts on a stale reading, and
importing the same document twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from functions.core import engine
from functions.core.adapters.db import Connection, transaction
from functions.core.errors import Forbidden, UnknownField, Unprocessable
from functions.core.mappers.definitions import (
    canonical_rule_document,
    canonical_segment_document,
    flag_definition,
    referenced_segments,
)
from functions.core.memory import collector_paused
from functions.core.models.config_file import (
    ConfigDocument,
    EnvironmentSpec,
    ExportedDocument,
    FlagSpec,
    ImportResult,
    RuleSpec,
    SegmentSpec,
    StateSpec,
)
from functions.core.models.flags import Flag
from functions.core.models.problems import problems
from functions.core.services import flag_states, prerequisites
from functions.core.services.change_writes import ConfigWrites
from functions.core.services.guards import check_stored_rules, delete_unused_segment
from functions.core.stores import environments as environment_store
from functions.core.stores import flags as flag_store
from functions.core.stores import segments as segment_store


@dataclass(slots=True)
class Plan:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        action: str,
        *,
        flag: str | None = None,
        environment: str | None = None,
        segment: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        item: dict[str, Any] = {"action": action}
        if segment is not None:
            item["segment"] = segment
        if flag is not None:
            item["flag"] = flag
        if environment is not None:
            item["environment"] = environment
        if changes:
            item["changes"] = changes
        self.items.append(item)

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(("created", "changed", "deleted", "unchanged"), 0)
        for item in self.items:
            counts[item["action"]] += 1
        return counts

    @property
    def changes_anything(self) -> bool:
        return any(item["action"] != "unchanged" for item in self.items)

    def shared_changes(self) -> list[dict[str, Any]]:
        """What reaches every environment: definition changes and deletions, segments,
        environments themselves. Creating a flag does not (it starts off elsewhere)."""
        return [
            item
            for item in self.items
            if item["action"] != "unchanged"
            and (
                "segment" in item
                or ("flag" not in item and "environment" in item)
                or ("flag" in item and "environment" not in item and item["action"] != "created")
            )
        ]


class ConfigFileService:
    """Export and import of whole configuration documents (the flags function's)."""

    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._writes = ConfigWrites(database_url, redis_url)

    @collector_paused()
    def export(self, *, environment: str | None) -> ExportedDocument:
        with transaction(self._database_url) as conn:
            if environment is not None:
                environment_store.get_environment(conn, environment)
            document = export_document(conn, None if environment is None else [environment])
        return ExportedDocument.model_validate(document)

    @collector_paused()
    def import_document(
        self, document: ConfigDocument, *, dry_run: bool, bound_to: str | None
    ) -> ImportResult:
        """The plan; without `dry_run` also carried out, in one transaction.

        A key bound to one environment may change states and rules there, not what
        every environment shares: the whole import is refused, nothing applied.
        """
        with self._writes.transaction() as conn:
            plan = plan_and_apply(conn, document, apply=not dry_run)
            shared = plan.shared_changes()
            if bound_to is not None and shared:
                raise Forbidden(
                    f"this API key is bound to environment '{bound_to}' and cannot change"
                    " what every environment shares (flag definitions, segments,"
                    " environments); that takes a key that is not bound to an environment",
                    key_environment=bound_to,
                    shared_changes=shared[:20],
                )
        applied = not dry_run and plan.changes_anything
        return ImportResult.model_validate(
            {"dry_run": dry_run, "applied": applied, "summary": plan.summary(), "plan": plan.items}
        )


def parse_document(raw: object) -> ConfigDocument:
    """Shape and consistency; every refusal names the JSON path at fault."""
    if not isinstance(raw, dict):
        raise Unprocessable("the document must be an object", field="$")
    try:
        document = ConfigDocument.model_validate(raw)
    except ValidationError as exc:
        found = sorted(problems(exc, ConfigDocument), key=lambda problem: not problem.unknown)
        details: dict[str, Any] = {"field": found[0].path}
        if found[0].accepted is not None:
            details["accepted"] = list(found[0].accepted)
        refusal = UnknownField if found[0].unknown else Unprocessable
        raise refusal(
            "invalid document: " + "; ".join(problem.message for problem in found),
            **details,
            fields=[{"path": problem.path, "problem": problem.message} for problem in found],
        ) from None
    seen: set[str] = set()
    for index, environment in enumerate(document.environments):
        if environment.key in seen:
            raise Unprocessable(
                "an environment is listed twice", field=f"$.environments[{index}].key"
            )
        seen.add(environment.key)
    segment_keys: set[str] = set()
    for index, segment in enumerate(document.segments or []):
        if segment.key in segment_keys:
            raise Unprocessable("a segment is listed twice", field=f"$.segments[{index}].key")
        segment_keys.add(segment.key)
        _segment_document(segment, index)
    names: set[str] = set()
    for index, flag in enumerate(document.flags):
        if flag.name in names:
            raise Unprocessable("a flag is listed twice", field=f"$.flags[{index}].name")
        names.add(flag.name)
        definition = _definition(flag, index)
        for key, state in flag.environments.items():
            path = f"$.flags[{index}].environments.{key}"
            if key not in seen:
                raise Unprocessable(
                    f"environment '{key}' is not in the document's environments", field=path
                )
            if state.rule is not None:
                # segments the database holds are known only when planning: check them then
                known = segment_keys | set(referenced_segments(state.rule.rules))
                canonical_rule_document(
                    definition=definition,
                    rules=state.rule.rules,
                    segment_keys=known,
                    path=f"{path}.rule.rules",
                    grammar=engine.Grammar(state.rule.grammar),
                )
    return document


def _definition(spec: FlagSpec, index: int) -> engine.FlagDefinition:
    return flag_definition(name=spec.name, fields=spec.model_dump(), path=f"$.flags[{index}]")


def _segment_document(spec: SegmentSpec, index: int) -> dict[str, Any]:
    return canonical_segment_document(
        document=spec.model_dump(exclude_none=True, exclude={"grammar"}),
        path=f"$.segments[{index}]",
        grammar=engine.Grammar(spec.grammar),
    )


def export_document(conn: Connection, environments: list[str] | None) -> dict[str, Any]:
    """Every segment (they are shared), every flag's definition and the chosen states."""
    known = environment_store.list_environments(conn)
    chosen = [e for e in known if environments is None or e.key in environments]
    stored = {e.key: flag_states.read_environment(conn, environment=e.key) for e in chosen}
    flags = [
        {
            **_definition_view(definition),
            "environments": {
                key: _state_view(at.of(definition.name)) for key, at in stored.items()
            },
        }
        for definition in flag_store.list_flags(conn, environment=chosen[0].key)
    ]
    return {
        "version": 1,
        "environments": [{"key": e.key, "name": e.name} for e in chosen],
        "segments": [
            {**document, "grammar": grammar}
            for document, grammar in segment_store.documents(conn).values()
        ],
        "flags": flags,
    }


def _state_view(state: flag_states.FlagState) -> dict[str, Any]:
    """A state as a document says it (the rule's `is_enabled` is its `enabled`)."""
    rule = state.rule
    if rule is None:
        return {"enabled": state.enabled, "rule": None}
    return {
        "enabled": state.enabled,
        "rule": {"enabled": rule["is_enabled"], "rules": rule["rules"], "grammar": rule["grammar"]},
    }


KEPT_WHEN_OMITTED = frozenset({"description", "tags", "owner"})
"""Descriptive fields every environment shares: one a document leaves out of an existing
flag is left as it is (an explicit `""`, `[]` or null still clears it), so a hand-written
file does not wipe what the console or the API wrote. Everything else a document leaves
out takes its default, as the document is the truth for what flags decide."""

_DEFINITION_VIEW = (
    "description",
    "type",
    "variants",
    "off_variant",
    "default_variant",
    "tags",
    "owner",
    "archived",
)


def _definition_view(
    flag: Flag | FlagSpec, definition: engine.FlagDefinition | None = None
) -> dict[str, Any]:
    """The shared fields as a document says them; a spec's variants as the engine read them."""
    view: dict[str, Any] = {"name": flag.name}
    for name in _DEFINITION_VIEW:
        view[name] = getattr(flag, name)
    view["tags"] = sorted(set(view["tags"]))
    if definition is not None:
        view.update(
            variants=dict(definition.variants),
            off_variant=definition.off_variant,
            default_variant=definition.default_variant,
        )
    return view


def plan_and_apply(conn: Connection, document: ConfigDocument, *, apply: bool) -> Plan:
    if apply:
        flag_store.lock_imports(conn)
    plan = Plan()
    existing = {e.key: e for e in environment_store.list_environments(conn)}
    for environment in document.environments:
        _environment(conn, plan, environment, existing, apply=apply)
    keys = [environment.key for environment in document.environments]
    covers_all = set(existing) <= set(keys)
    stored_segments = segment_store.documents(conn)
    dropped: list[str] = []
    if document.segments is not None:
        for index, segment in enumerate(document.segments):
            _segment(conn, plan, segment, index, stored_segments.get(segment.key), apply=apply)
        if covers_all:
            dropped = sorted(set(stored_segments) - {s.key for s in document.segments})
    known = (set(stored_segments) - set(dropped)) | {s.key for s in document.segments or []}
    current = {flag.name: flag for flag in flag_store.list_flags(conn, environment=keys[0])}
    # Each environment read once, not per flag; states are written after every definition,
    # in a few statements, and before segments go (the rules naming them are replaced).
    stored = {key: flag_states.read_environment(conn, environment=key) for key in keys}
    writes: list[flag_states.StateWrite] = []
    for index, spec in enumerate(document.flags):
        found = current.get(spec.name)
        _flag(conn, plan, spec, index, found, known, stored, writes, apply=apply)
    listed = {spec.name for spec in document.flags}
    _check_prerequisites(conn, document, keys, current, covers_all=covers_all, apply=apply)
    cleared: list[tuple[str, str]] = []
    for name in sorted(set(current) - listed):
        _absent_flag(conn, plan, name, stored, cleared, delete=covers_all, apply=apply)
    if apply:
        flag_states.write(conn, writes)
        flag_states.clear(conn, cleared)
    for key in dropped:
        plan.add("deleted", segment=key)
        if apply:
            delete_unused_segment(conn, key)
    return plan


def _check_prerequisites(
    conn: Connection,
    document: ConfigDocument,
    keys: list[str],
    current: dict[str, Flag],
    *,
    covers_all: bool,
    apply: bool,
) -> None:
    """The prerequisites as the document leaves every environment it covers: flags that
    exist after it, not archived, with the listed variants, no cycle, within the caps."""
    desired: dict[str, dict[str, list[tuple[str, list[str]]]]] = {key: {} for key in keys}
    paths: dict[tuple[str, str], str] = {}
    for index, spec in enumerate(document.flags):
        for key in keys:
            state = spec.environments.get(key)
            rule = None if state is None else state.rule
            desired[key][spec.name] = [] if rule is None else prerequisites.listed(rule.rules)
            paths[(key, spec.name)] = f"$.flags[{index}].environments.{key}.rule.rules"
    archiving = [
        spec.name
        for spec in document.flags
        if spec.archived and (spec.name not in current or not current[spec.name].archived)
    ]
    if not archiving and not any(any(flags.values()) for flags in desired.values()):
        return
    definitions: dict[str, tuple[frozenset[str], bool]] = {}
    if not covers_all:
        for name, flag in current.items():
            kept = flag_definition(name=name, fields=flag.model_dump())
            definitions[name] = (frozenset(kept.variants), flag.archived)
    for index, spec in enumerate(document.flags):
        definitions[spec.name] = (frozenset(_definition(spec, index).variants), spec.archived)
    prerequisites.check_import(
        conn,
        environments=keys,
        desired=desired,
        paths=paths,
        definitions=definitions,
        archiving=archiving,
        lock=apply,
    )


def _segment(
    conn: Connection,
    plan: Plan,
    spec: SegmentSpec,
    index: int,
    stored: tuple[dict[str, Any], int] | None,
    *,
    apply: bool,
) -> None:
    """`stored`: the segment's document and grammar, None when there is none."""
    wanted = _segment_document(spec, index)
    if stored == (wanted, spec.grammar):
        plan.add("unchanged", segment=spec.key)
        return
    if stored is None:
        plan.add("created", segment=spec.key)
    else:
        was, grammar = stored
        changes: dict[str, Any] = {}
        if was != wanted:
            changes["segment"] = {"from": was, "to": wanted}
        if grammar != spec.grammar:
            changes["grammar"] = {"from": grammar, "to": spec.grammar}
        plan.add("changed", segment=spec.key, changes=changes)
    if apply:
        segment_store.put_segment(conn, key=spec.key, document=wanted, grammar=spec.grammar)


def _environment(
    conn: Connection, plan: Plan, spec: EnvironmentSpec, existing: dict[str, Any], *, apply: bool
) -> None:
    found = existing.get(spec.key)
    if found is None:
        plan.add("created", environment=spec.key)
        if apply:
            environment_store.create_environment(
                conn, key=spec.key, name=spec.name or spec.key.capitalize()
            )
    elif spec.name is not None and spec.name != found.name:
        plan.add(
            "changed", environment=spec.key, changes={"name": {"from": found.name, "to": spec.name}}
        )
        if apply:
            environment_store.rename_environment(conn, spec.key, name=spec.name)


def _flag(
    conn: Connection,
    plan: Plan,
    spec: FlagSpec,
    index: int,
    found: Flag | None,
    segments: set[str],
    stored: dict[str, flag_states.EnvironmentStates],
    writes: list[flag_states.StateWrite],
    *,
    apply: bool,
) -> None:
    """Plan (and apply) the definition now; the states' writes join `writes`."""
    keys = list(stored)
    definition = _definition(spec, index)
    kept = frozenset() if found is None else KEPT_WHEN_OMITTED - spec.model_fields_set
    shared = flag_store.Definition.of(
        definition,
        tags=found.tags if found is not None and "tags" in kept else spec.tags,
        owner=found.owner if found is not None and "owner" in kept else spec.owner,
        archived=spec.archived,
    )
    if found is None:
        plan.add("created", flag=spec.name)
        if apply:
            flag_store.create_flag(
                conn,
                name=spec.name,
                description=spec.description,
                is_enabled=False,
                environment=keys[0],
                definition=shared,
            )
    else:
        was, becomes = _definition_view(found), _definition_view(spec, definition)
        becomes.update({name: was[name] for name in kept})
        changes = {
            name: {"from": was[name], "to": becomes[name]}
            for name in _DEFINITION_VIEW
            if was[name] != becomes[name]
        }
        if changes.keys() & {"type", "variants"}:
            # Lock first, as API definition changes do, so no rule can slip in between.
            flag_store.lock_flag(conn, spec.name)
            field = "type" if "type" in changes else "variants"
            check_stored_rules(
                conn, definition, field=f"$.flags[{index}].{field}", skip_environments=keys
            )
        if changes:
            plan.add("changed", flag=spec.name, changes=changes)
        if apply and changes:
            flag_store.update_flag(
                conn,
                spec.name,
                environment=keys[0],
                description=spec.description,
                set_description="description" not in kept,
            )
            flag_store.set_definition(conn, spec.name, shared)
    for key in keys:
        desired = spec.environments.get(key, StateSpec())
        path = f"$.flags[{index}].environments.{key}.rule.rules"
        want_rule = _desired_view(definition, desired.rule, segments, path=path)
        _state(
            plan,
            definition,
            key,
            flag_states.FlagState(desired.enabled, want_rule),
            None if found is None else stored[key],
            writes,
            apply=apply,
        )


def _desired_view(
    definition: engine.FlagDefinition, rule: RuleSpec | None, segments: set[str], *, path: str
) -> dict[str, Any] | None:
    if rule is None:
        return None
    grammar = engine.Grammar(rule.grammar)
    return {
        "is_enabled": rule.enabled,
        "rules": canonical_rule_document(
            definition=definition,
            rules=rule.rules,
            segment_keys=segments,
            path=path,
            grammar=grammar,
        ),
        "grammar": grammar,
    }


def _state(
    plan: Plan,
    definition: engine.FlagDefinition,
    environment: str,
    wanted: flag_states.FlagState,
    stored: flag_states.EnvironmentStates | None,
    writes: list[flag_states.StateWrite],
    *,
    apply: bool,
) -> None:
    """`stored`: the environment as read before any write; None for a flag being created."""
    name = definition.key
    if stored is None:
        was = flag_states.FlagState(enabled=False, rule=None)
    else:
        state = stored.of(name)
        was = flag_states.FlagState(state.enabled, _comparable(definition, state.rule, wanted.rule))
    changes = flag_states.differences(was, wanted)
    if stored is None:
        plan.add("created", flag=name, environment=environment, changes=changes)
    else:
        plan.add(
            "changed" if changes else "unchanged",
            flag=name,
            environment=environment,
            changes=changes,
        )
    if apply and changes:
        writes.append(flag_states.StateWrite(name, environment, wanted))


def _comparable(
    definition: engine.FlagDefinition, view: dict[str, Any] | None, wanted: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A stored rule in canonical form (of its own grammar), so an old spelling of the same
    rule compares equal.

    One equal to the `wanted` (canonical) rules in the same grammar is canonical already --
    the canonical form is a fixed point -- and is not parsed again: most rules of a
    re-import are unchanged.
    """
    if view is None:
        return None
    if (
        wanted is not None
        and view["rules"] == wanted["rules"]
        and view["grammar"] == wanted["grammar"]
    ):
        return view
    try:
        named = referenced_segments(view["rules"])
        rules = canonical_rule_document(
            definition=definition,
            rules=view["rules"],
            segment_keys=named,
            path="$",
            grammar=engine.Grammar(view["grammar"]),
        )
    except Unprocessable:
        rules = view["rules"]
    return {"is_enabled": view["is_enabled"], "rules": rules, "grammar": view["grammar"]}


def _absent_flag(
    conn: Connection,
    plan: Plan,
    name: str,
    stored: dict[str, flag_states.EnvironmentStates],
    cleared: list[tuple[str, str]],
    *,
    delete: bool,
    apply: bool,
) -> None:
    """Deleted when the document covers every environment; else off, without rule, in
    those it covers (`cleared` collects them)."""
    if delete:
        plan.add("deleted", flag=name)
        if apply:
            flag_store.delete_flag(conn, name)
        return
    for key, states in stored.items():
        state = states.of(name)
        if not state.enabled and state.rule is None:
            continue
        plan.add("deleted", flag=name, environment=key)
        if apply:
            cleared.append((name, key))
