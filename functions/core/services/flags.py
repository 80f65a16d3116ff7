"""Flags: their shared definition and their state per environment.

Every write goes through `ConfigWrites`: evaluation hears of it once it commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.core.adapters.db import Connection, transaction
from functions.core.mappers import definitions
from functions.core.models.flags import CreateFlagRequest, Flag, UpdateFlagRequest
from functions.core.services.change_writes import ConfigWrites
from functions.core.services.guards import check_stored_rules
from functions.core.stores import environments as environment_store
from functions.core.stores import flags as flag_store

VARIANT_FIELDS = frozenset({"type", "variants", "off_variant", "default_variant"})
DEFINITION_FIELDS = VARIANT_FIELDS | {"tags", "owner", "archived"}
DECISION_FIELDS = VARIANT_FIELDS | {"archived"}
"""Definition fields that change what every environment decides."""


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

    def update_flag(self, name: str, request: UpdateFlagRequest, *, environment: str) -> Flag:
        given = request.model_fields_set
        with self._writes.transaction() as conn:
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
        return flag

    def delete_flag(self, name: str) -> None:
        with self._writes.transaction() as conn:
            flag_store.delete_flag(conn, name)


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
    definition = definitions.flag_definition(name=name, fields=merged, given=given)
    if given & {"type", "variants"}:
        field = "$.variants" if "variants" in given else "$.type"
        check_stored_rules(conn, definition, field=field)
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
