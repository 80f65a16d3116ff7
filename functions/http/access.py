"""The bearer key of a request to a function that does not own the keys (flags,
targeting, evaluation): who is calling, with which scope, acting on which environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from functions.core.keys.access import ENVIRONMENT_PARAMETER, Caller, resolve_environment
from functions.core.names import ENVIRONMENT_PATTERN
from functions.http.messages import Request
from functions.http.operations import Parameter
from functions.http.requests import bearer_token
from functions.http.startup import once

if TYPE_CHECKING:
    from functions.core.keys.client import AuthClient

ENVIRONMENT = Parameter(
    ENVIRONMENT_PARAMETER,
    "the environment to act on; omitted: the key's own, or the default environment",
    schema={"type": "string", "pattern": ENVIRONMENT_PATTERN},
)


class KeyCheckSettings(Protocol):
    @property
    def auth_service_url(self) -> str: ...
    @property
    def redis_url(self) -> str: ...
    @property
    def default_environment(self) -> str: ...


class KeyCheck:
    """One per function; its `AuthClient` (and key cache) is built on first use and
    belongs to the function that owns `settings` (see `startup.reset`)."""

    def __init__(self, settings: Callable[[], KeyCheckSettings]) -> None:
        self._settings = settings
        self._client = once(self._build_client, owner=settings.__module__)

    def _build_client(self) -> AuthClient:
        from functions.core.keys.client import AuthClient  # HTTP client: the admin functions'

        config = self._settings()
        return AuthClient(config.auth_service_url, redis_url=config.redis_url)

    @property
    def client(self) -> AuthClient:
        return self._client()

    def caller(self, request: Request, scope: str) -> Caller:
        """The caller behind the bearer key (or 401), holding `scope` (or 403)."""
        caller = self.client.validate(bearer_token(request))
        caller.require(scope)
        return caller

    def acting_environment(self, request: Request, caller: Caller) -> str:
        """`?environment=`, the key's own, or the default environment."""
        return resolve_environment(
            caller,
            request.args.get(ENVIRONMENT_PARAMETER),
            default=self._settings().default_environment,
        )

    def environment_or_all(self, request: Request, caller: Caller) -> str | None:
        """For reads that span environments (export, overview): None (every one) for an
        unbound key that names none, else the one it names or is bound to."""
        if caller.environment is None and ENVIRONMENT_PARAMETER not in request.args:
            return None
        return self.acting_environment(request, caller)

    def environment(self, request: Request, scope: str) -> str:
        """The environment the request acts on, once its key holds `scope`."""
        return self.acting_environment(request, self.caller(request, scope))
