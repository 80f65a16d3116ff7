"""Bearer-key checks for functions that do not own the keys table.

They ask the auth function's `/validate`, as the seed's services did.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from functions.core.errors import Forbidden, ServiceUnavailable, Unauthorized

SEED_SCOPES = frozenset({"read", "write", "evaluate"})
"""What a key without explicit scopes may do: all the old system's keys could."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key as auth knows it."""

    key_id: int | None
    name: str
    scopes: frozenset[str] = SEED_SCOPES
    environment: str | None = None
    """The environment the key is bound to; None acts on every environment."""

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(
                f"this API key lacks the '{scope}' scope",
                missing_scope=scope,
                scopes=sorted(self.scopes),
            )


class AuthClient:
    def __init__(self, auth_service_url: str, *, timeout: float = 3.0) -> None:
        self._url = auth_service_url.rstrip("/") + "/validate"
        self._timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def validate(self, token: str | None) -> Caller:
        if not token:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        try:
            response = self._session().get(
                self._url, headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable("the auth function is unreachable") from exc
        if response.status_code in (401, 403):
            raise Unauthorized("invalid or inactive API key")
        if response.status_code != 200:
            raise ServiceUnavailable("the auth function answered with an error")
        body = response.json()
        key_id = body.get("id")
        scopes = body.get("scopes")
        return Caller(
            key_id=int(key_id) if key_id is not None else None,
            name=str(body.get("name", "")),
            scopes=frozenset(scopes) if isinstance(scopes, list) else SEED_SCOPES,
            environment=body.get("environment") or None,
        )
