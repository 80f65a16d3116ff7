"""Flag CRUD: the flags function's logic. Every write is announced to evaluation."""

from __future__ import annotations

from functions.core import flag_store, notices
from functions.core.cache import redis_client
from functions.core.db import transaction
from functions.core.models import CreateFlagRequest, Flag, UpdateFlagRequest


class FlagService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._redis_url = redis_url

    def list_flags(self) -> list[Flag]:
        with transaction(self._database_url) as conn:
            return flag_store.list_flags(conn)

    def get_flag(self, name: str) -> Flag:
        with transaction(self._database_url) as conn:
            return flag_store.get_flag(conn, name)

    def create_flag(self, request: CreateFlagRequest) -> Flag:
        with transaction(self._database_url) as conn:
            flag = flag_store.create_flag(
                conn,
                name=request.name,
                description=request.description,
                is_enabled=request.is_enabled,
            )
        self._announce(flag.name)
        return flag

    def update_flag(self, name: str, request: UpdateFlagRequest) -> Flag:
        changes = {field: getattr(request, field) for field in request.model_fields_set}
        if changes.get("is_enabled", False) is None:
            del changes["is_enabled"]
        with transaction(self._database_url) as conn:
            flag = flag_store.update_flag(conn, name, changes=changes)
        self._announce(name)
        return flag

    def delete_flag(self, name: str) -> None:
        with transaction(self._database_url) as conn:
            flag_store.delete_flag(conn, name)
        self._announce(name)

    def _announce(self, name: str) -> None:
        notices.announce_change(redis_client(self._redis_url), kind="flag", name=name)
