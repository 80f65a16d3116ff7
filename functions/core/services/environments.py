"""Environments: what flag states and rules are kept apart by.

Deleting one takes its states and rules with it, so it is refused for the default
environment and while keys are bound to it (auth counts them).
"""

from __future__ import annotations

from collections.abc import Callable

from functions.core.adapters.db import transaction
from functions.core.errors import Conflict
from functions.core.models.environments import CreateEnvironmentRequest, Environment
from functions.core.services.change_writes import ConfigWrites
from functions.core.stores import environments as environment_store

BoundKeyCount = Callable[[str], int]


class EnvironmentService:
    def __init__(self, *, database_url: str, redis_url: str, default_environment: str) -> None:
        self._database_url = database_url
        self._writes = ConfigWrites(database_url, redis_url)
        self.default_environment = default_environment

    def list_environments(self) -> list[Environment]:
        with transaction(self._database_url) as conn:
            return environment_store.list_environments(conn)

    def get_environment(self, key: str) -> Environment:
        with transaction(self._database_url) as conn:
            return environment_store.get_environment(conn, key)

    def create_environment(self, request: CreateEnvironmentRequest) -> Environment:
        with self._writes.transaction() as conn:
            created = environment_store.create_environment(
                conn, key=request.key, name=request.name or request.key.capitalize()
            )
        return created

    def rename_environment(self, key: str, *, name: str) -> Environment:
        with self._writes.transaction() as conn:
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
        with self._writes.transaction() as conn:
            environment_store.delete_environment(conn, key)
