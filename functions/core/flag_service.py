"""Flags and environments: the flags function's logic.

Every write is announced to evaluation after it commits (see `notices`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functions.core import (
    config_sync,
    environment_store,
    flag_store,
    notices,
    rule_documents,
    rule_store,
)
from functions.core.cache import redis_client
from functions.core.config_document import ConfigDocument
from functions.core.db import Connection, transaction
from functions.core.errors import Conflict, Forbidden
from functions.core.models import (
    CreateEnvironmentRequest,
    CreateFlagRequest,
    Environment,
    Flag,
    UpdateFlagRequest,
)

BoundKeyCount = Callable[[str], int]

VARIANT_FIELDS = frozenset({"type", "variants", "off_variant", "default_variant"})
DEFINITION_FIELDS = VARIANT_FIELDS | {"tags", "owner", "archived"}


class FlagService:
    def __init__(self, *, database_url: str, redis_url: str, default_environment: str) -> None:
        self._database_url = database_url
        self._redis_url = redis_url
        self.default_environment = default_environment

    # -- flags -----------------------------------------------------------------------

    def list_flags(
        self, *, environment: str, tags: Sequence[str] = (), include_archived: bool = False
    ) -> list[Flag]:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            return flag_store.list_flags(
                conn, environment=environment, tags=tags, include_archived=include_archived
            )

    def get_flag(self, name: str, *, environment: str) -> Flag:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            return flag_store.get_flag(conn, name, environment=environment)

    def create_flag(self, request: CreateFlagRequest, *, environment: str) -> Flag:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            definition = rule_documents.flag_definition(request.name, request.model_dump())
            flag = flag_store.create_flag(
                conn,
                name=request.name,
                description=request.description,
                is_enabled=request.is_enabled,
                environment=environment,
                definition=flag_store.Definition.of(
                    definition, tags=request.tags, owner=request.owner
                ),
            )
        self._announce("flag", flag.name)
        return flag

    def update_flag(self, name: str, request: UpdateFlagRequest, *, environment: str) -> Flag:
        given = request.model_fields_set
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            if given & DEFINITION_FIELDS:
                _update_definition(conn, name, request, environment=environment)
            flag = flag_store.update_flag(
                conn,
                name,
                environment=environment,
                description=request.description,
                set_description="description" in given,
                is_enabled=request.is_enabled,
            )
        self._announce("flag", name)
        return flag

    def delete_flag(self, name: str) -> None:
        with transaction(self._database_url) as conn:
            flag_store.delete_flag(conn, name)
        self._announce("flag", name)

    def promote(self, name: str, *, source: str, target: str, dry_run: bool) -> dict[str, Any]:
        """Make `target` decide like `source`: state and rule, in one transaction."""
        with transaction(self._database_url) as conn:
            for environment in (source, target):
                environment_store.get_environment(conn, environment)
            flag_id = flag_store.lock_flag(conn, name)
            changes = _difference(conn, name, source=source, target=target)
            if changes and not dry_run:
                _copy_state(conn, name, flag_id, source=source, target=target)
        applied = bool(changes) and not dry_run
        if applied:
            self._announce("flag", name)
        return {
            "flag_name": name,
            "from": source,
            "to": target,
            "dry_run": dry_run,
            "applied": applied,
            "changes": changes,
        }

    # -- configuration as files ----------------------------------------------------------

    def export(self, *, environment: str | None) -> dict[str, Any]:
        with transaction(self._database_url) as conn:
            if environment is not None:
                environment_store.get_environment(conn, environment)
            return config_sync.export_document(conn, None if environment is None else [environment])

    def import_document(
        self, document: ConfigDocument, *, dry_run: bool, bound_to: str | None
    ) -> dict[str, Any]:
        """The plan; without `dry_run` also carried out, in one transaction.

        A key bound to one environment may change states and rules there, not what
        every environment shares: the whole import is refused, nothing applied.
        """
        with transaction(self._database_url) as conn:
            plan = config_sync.plan_and_apply(conn, document, apply=not dry_run)
            shared = plan.shared_changes()
            if bound_to is not None and shared:
                raise Forbidden(
                    f"this API key is bound to environment '{bound_to}' and cannot change"
                    " what every environment shares (flag definitions, segments,"
                    " environments)",
                    key_environment=bound_to,
                    shared_changes=shared[:20],
                )
        applied = not dry_run and plan.changes_anything
        if applied:
            self._announce("import", ",".join(e.key for e in document.environments))
        return {
            "dry_run": dry_run,
            "applied": applied,
            "summary": plan.summary(),
            "plan": plan.items,
        }

    # -- environments ------------------------------------------------------------------

    def list_environments(self) -> list[Environment]:
        with transaction(self._database_url) as conn:
            return environment_store.list_environments(conn)

    def get_environment(self, key: str) -> Environment:
        with transaction(self._database_url) as conn:
            return environment_store.get_environment(conn, key)

    def create_environment(self, request: CreateEnvironmentRequest) -> Environment:
        with transaction(self._database_url) as conn:
            created = environment_store.create_environment(
                conn, key=request.key, name=request.name or request.key.capitalize()
            )
        self._announce("environment", created.key)
        return created

    def rename_environment(self, key: str, *, name: str) -> Environment:
        with transaction(self._database_url) as conn:
            return environment_store.rename_environment(conn, key, name=name)

    def delete_environment(self, key: str, *, bound_keys: BoundKeyCount) -> None:
        if key == self.default_environment:
            raise Conflict(
                f"environment '{key}' is the default environment and cannot be deleted",
                environment=key,
            )
        self.get_environment(key)
        count = bound_keys(key)
        if count:
            raise Conflict(
                f"environment '{key}' has {count} active API key(s) bound to it: revoke them first",
                environment=key,
                bound_keys=count,
            )
        with transaction(self._database_url) as conn:
            environment_store.delete_environment(conn, key)
        self._announce("environment", key)

    def _announce(self, kind: str, name: str) -> None:
        notices.announce_change(redis_client(self._redis_url), kind=kind, name=name)


def _update_definition(
    conn: Connection, name: str, request: UpdateFlagRequest, *, environment: str
) -> None:
    """Merge the fields sent into the stored definition; refuse one a stored rule would
    not fit (the definition is shared, so every environment's rules must fit it)."""
    flag_store.lock_flag(conn, name)
    current = flag_store.get_flag(conn, name, environment=environment)
    given = request.model_fields_set
    merged = current.model_dump()
    for field in given & VARIANT_FIELDS:
        merged[field] = getattr(request, field)
    if request.type == "boolean" != current.type and "variants" not in given:
        for field in ("variants", "off_variant", "default_variant"):
            merged[field] = getattr(request, field) if field in given else None
    definition = rule_documents.flag_definition(name, merged, given=given)
    if given & {"type", "variants"}:
        field = "$.variants" if "variants" in given else "$.type"
        rule_documents.check_stored_rules(conn, definition, field=field)
    flag_store.set_definition(
        conn,
        name,
        flag_store.Definition.of(
            definition,
            tags=(request.tags or []) if "tags" in given else current.tags,
            owner=request.owner if "owner" in given else current.owner,
            archived=current.archived if request.archived is None else request.archived,
        ),
    )


def _difference(conn: Connection, name: str, *, source: str, target: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    was = flag_store.get_flag(conn, name, environment=target).is_enabled
    becomes = flag_store.get_flag(conn, name, environment=source).is_enabled
    if was != becomes:
        changes["is_enabled"] = {"from": was, "to": becomes}
    old_rule = rule_store.rule_view(rule_store.find_rule(conn, name, environment=target))
    new_rule = rule_store.rule_view(rule_store.find_rule(conn, name, environment=source))
    if old_rule != new_rule:
        changes["rule"] = {"from": old_rule, "to": new_rule}
    return changes


def _copy_state(conn: Connection, name: str, flag_id: int, *, source: str, target: str) -> None:
    enabled = flag_store.get_flag(conn, name, environment=source).is_enabled
    flag_store.set_enabled(conn, flag_id=flag_id, environment=target, is_enabled=enabled)
    rule = rule_store.find_rule(conn, name, environment=source)
    if rule is None:
        rule_store.delete_rule(conn, name, environment=target)
    else:
        rule_store.put_rule(
            conn, flag_name=name, environment=target, rules=rule.rules, is_enabled=rule.is_enabled
        )
