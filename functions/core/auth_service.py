"""Issuing and validating API keys: the auth function's logic."""

from __future__ import annotations

from functions.core import key_store
from functions.core.db import transaction
from functions.core.errors import Forbidden, Unauthorized
from functions.core.key_store import ApiKey
from functions.core.keys import KEY_PREFIX, same_secret
from functions.core.models import CreatedKey

CREATED_MESSAGE = "API key created. Store it now: it is shown only once."


class AuthService:
    def __init__(self, *, database_url: str, master_key: str) -> None:
        self._database_url = database_url
        self._master_key = master_key

    def require_master(self, presented: str | None) -> None:
        if presented is None or not same_secret(presented, self._master_key):
            raise Forbidden("the master key is required")

    def issue_key(self, *, name: str) -> CreatedKey:
        with transaction(self._database_url) as conn:
            key, plaintext = key_store.create_key(conn, name=name)
        return CreatedKey(id=key.id, name=key.name, key=plaintext, message=CREATED_MESSAGE)

    def validate(self, presented: str | None) -> ApiKey:
        if not presented or not presented.startswith(KEY_PREFIX) or len(presented) > 200:
            raise Unauthorized("invalid or inactive API key")
        with transaction(self._database_url) as conn:
            key = key_store.find_active_key(conn, plaintext=presented)
        if key is None:
            raise Unauthorized("invalid or inactive API key")
        return key
