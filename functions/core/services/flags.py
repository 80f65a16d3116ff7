"""Flags: their shared definition and their state per environment.

Every write goes through `ConfigWrites`: evaluation hears of it once it commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.core.adapters.db import Connection, transaction
from functions.core.mappers import definitions
from functions.core.models.flags import CreateFlagRequest, Flag, UpdateFlagRequest
from functions.core.services import preconditions, prerequisites
from functions.core.services.change_writes import ConfigWrites
from functions.core.services.guards import check_stored_rules, refuse_shared_changes
from functions.core.services.preconditions import IfMatch
from functions.core.stores import environments as environment_store
from functions.core.stores import flags as flag_store

VARIANT_FIELDS = frozenset({"type", "variants", "off_variant", "default_variant"})
DEFINITION_FIELDS = VARIANT_FIELDS | {"tags", "owner", "archived"}
SHARED_FIELDS = DEFINITION_FIELDS | {"description"}
"""Every field of `PUT /flags/<name>` but `is_enabled`: one flag, seen by every environment."""


class FlagService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._writes = ConfigWrites(database_url, redis_url)

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
        with self._writes.transaction() as conn:
            environment_store.get_environment(conn, environment)
            definition = definitions.flag_definition(name=request.name, fields=request.model_dump())
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
        return flag

    def update_flag(
        self,
        name: str,
        request: UpdateFlagRequest,
        *,
        environment: str,
        bound_to: str | None = None,
        if_match: IfMatch | None = None,
    ) -> Flag:
        """`bound_to`: the environment the caller's key is bound to; such a key changes the
        flag's state there and nothing every environment shares (403 naming the fields,
        nothing written). `if_match`: the versions the caller read (412 when it changed)."""
        given = request.model_fields_set
        with self._writes.transaction() as conn:
            environment_store.get_environment(conn, environment)
            current: Flag | None = None
            if if_match is not None or given & SHARED_FIELDS:
                flag_store.lock_flag(conn, name)
                current = flag_store.get_flag(conn, name, environment=environment)
                preconditions.check(
                    if_match,
                    current,
                    what=f"flag '{name}' in environment '{environment}'",
                    read_again=f"GET /flags/{name}?environment={environment}",
                )
            definition = None
            if current is not None and given & DEFINITION_FIELDS:
                definition = _new_definition(conn, name, request, current)
            set_description = "description" in given
            if bound_to is not None and current is not None:
                refuse_shared_changes(
                    bound_to, _changed_shared_fields(current, request, definition)
                )
                definition, set_description = None, False  # sent, but as they are
            if definition is not None:
                flag_store.set_definition(conn, name, definition)
            flag = flag_store.update_flag(
                conn,
                name,
                environment=environment,
                description=request.description,
                set_description=set_description,
                is_enabled=request.is_enabled,
            )
        return flag

    def delete_flag(
        self, name: str, *, if_match: IfMatch | None = None, environment: str | None = None
    ) -> None:
        """From every environment; `if_match` is checked against the flag as `environment`
        (where the caller read it) shows it."""
        with self._writes.transaction() as conn:
            if if_match is not None:
                if environment is None:
                    raise ValueError("checking a version needs the environment it was read in")
                environment_store.get_environment(conn, environment)
                flag_store.lock_flag(conn, name)
                preconditions.check(
                    if_match,
                    flag_store.get_flag(conn, name, environment=environment),
                    what=f"flag '{name}'",
                    read_again=f"GET /flags/{name}?environment={environment}",
                )
            else:
                flag_store.lock_flag(conn, name)
            prerequisites.refuse_if_required(conn, name, doing="deleting")
            flag_store.delete_flag(conn, name)


def _new_definition(
    conn: Connection, name: str, request: UpdateFlagRequest, current: Flag
) -> flag_store.Definition:
    """The stored definition with the fields sent merged in; refused (422) when a stored
    rule would not fit it (the definition is shared, so every environment's rules must)."""
    given = request.model_fields_set
    merged = current.model_dump()
    for field in given & VARIANT_FIELDS:
        merged[field] = getattr(request, field)
    if request.type == "boolean" != current.type and "variants" not in given:
        for field in ("variants", "off_variant", "default_variant"):
            merged[field] = getattr(request, field) if field in given else None
    definition = definitions.flag_definition(name=name, fields=merged, given=given)
    if given & {"type", "variants"}:
        field = "$.variants" if "variants" in given else "$.type"
        check_stored_rules(conn, definition, field=field)
    if request.archived and not current.archived:
        prerequisites.refuse_if_required(conn, name, doing="archiving")
    return flag_store.Definition.of(
        definition,
        tags=(request.tags or []) if "tags" in given else current.tags,
        owner=request.owner if "owner" in given else current.owner,
        archived=current.archived if request.archived is None else request.archived,
    )


def _changed_shared_fields(
    current: Flag, request: UpdateFlagRequest, definition: flag_store.Definition | None
) -> list[str]:
    """The fields sent that would change what every environment shares (a field sent as
    it already is changes nothing, so a client that sends back the whole flag it read
    with only `is_enabled` changed is not refused)."""
    given = request.model_fields_set
    changed = []
    if "description" in given and request.description != current.description:
        changed.append("description")
    if definition is not None:
        now = {
            "type": definition.type,
            "variants": definition.variants,
            "off_variant": definition.off_variant,
            "default_variant": definition.default_variant,
            "tags": list(definition.tags),
            "owner": definition.owner,
            "archived": definition.archived,
        }
        changed += [
            field
            for field in sorted(given & DEFINITION_FIELDS)
            if now[field] != getattr(current, field)
        ]
    return changed
