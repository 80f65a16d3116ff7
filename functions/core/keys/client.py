"""Bearer-key checks for functions that do not own the keys table.

`AuthClient.validate(token) -> Caller` is the one call they make. It answers from
`keys.cache` — this process's memory, then the grant auth published in Redis — and
only asks auth's `GET /validate` over HTTP on a miss, which also makes auth publish
the grant for every other process. In the steady state a protected request costs a
SHA-256 and a dict lookup; a revocation reaches every process within a second (see
`keys.cache` for how, and for what happens when Redis is down).
"""

from __future__ import annotations

import time

import requests

from functions.core.adapters.http_sessions import ThreadSessions
from functions.core.adapters.redis_clients import redis_client
from functions.core.errors import ServiceUnavailable
from functions.core.keys.access import Caller, refused
from functions.core.keys.cache import KeyCache
from functions.core.keys.material import hash_key, looks_like_key
from functions.core.mappers.keys import grant_from_validation
from functions.core.models.keys import REFUSED, Grant, Refusal


class AuthClient:
    """Validates bearer keys for one function process.

    `redis_url` is the function's REDIS_URL; None turns the shared layers off, leaving
    a one-second in-process memo in front of HTTP.
    """

    def __init__(
        self,
        auth_service_url: str,
        *,
        redis_url: str | None,
        timeout: float = 3.0,
        usage_flush_seconds: float = 2.0,
    ) -> None:
        self._url = auth_service_url.rstrip("/") + "/validate"
        self._timeout = timeout
        self._sessions = ThreadSessions()
        self._cache = KeyCache(
            redis_client(redis_url) if redis_url else None,
            usage_flush_seconds=usage_flush_seconds,
        )

    @property
    def cache(self) -> KeyCache:
        return self._cache

    def close(self) -> None:
        self._cache.close()

    def validate(self, token: str | None) -> Caller:
        if not token:
            raise refused(Refusal.missing())
        if not looks_like_key(token):
            raise refused(Refusal.not_a_key())
        key_hash = hash_key(token)
        answer = self._cache.lookup(key_hash)
        if answer is None:
            answer = self._resolve(key_hash, token)
        if isinstance(answer, Refusal):
            raise refused(answer)
        self._cache.note_use(answer.key_id)
        return Caller(
            key_id=answer.key_id,
            name=answer.name,
            scopes=answer.scopes,
            environment=answer.environment,
        )

    def _resolve(self, key_hash: str, token: str) -> Grant | Refusal:
        generation = self._cache.generation
        shared = self._cache.read_shared(key_hash)
        if shared is not None and not shared.expired(time.time()):
            self._cache.remember(key_hash, shared, generation=generation, durable=True)
            return shared
        answer = self._ask_auth(token)
        # A grant that came over HTTP is trusted for a second only: by then auth has
        # published it in Redis, whose entries revocation notices cover.
        self._cache.remember(
            key_hash, answer, generation=generation, durable=isinstance(answer, Refusal)
        )
        return answer

    def _ask_auth(self, token: str) -> Grant | Refusal:
        try:
            response = self._sessions.get().get(
                self._url, headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable("the auth function is unreachable") from exc
        if response.status_code in (401, 403):
            return _refusal(response)
        if response.status_code != 200:
            raise ServiceUnavailable("the auth function answered with an error")
        return grant_from_validation(body=response.json())


def _refusal(response: requests.Response) -> Refusal:
    """Auth's reason for refusing the key, as its 401 said it (an unknown key when the
    body says nothing usable)."""
    try:
        body = response.json()
    except ValueError:
        return REFUSED
    if not isinstance(body, dict):
        return REFUSED
    reason, message = body.get("reason"), body.get("error")
    if not isinstance(reason, str) or not isinstance(message, str):
        return REFUSED
    return Refusal(reason, message)
