"""The bearer key of a request to flags or targeting: who is calling, with which scope,
acting on which environment.

Keys are checked against the keys this process holds (`snapshot.key_keeper`: every
usable key, from auth's database, kept current by signed notices and a version check),
never by asking auth: a made-up key costs a SHA-256 and a dict miss. Failed
authentications are counted per client (`http.throttle`): over `AUTH_FAILURE_LIMIT` in
a window, they are answered 429; a valid key keeps working.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from functions.core import metrics
from functions.core.adapters.redis_clients import redis_client
from functions.core.keys.access import ENVIRONMENT_PARAMETER, Caller, refused, resolve_environment
from functions.core.keys.material import hash_key, looks_like_key
from functions.core.keys.signing import Signer
from functions.core.keys.usage import KeyUsage
from functions.core.models.keys import Refusal
from functions.core.names import ENVIRONMENT_PATTERN
from functions.http.messages import Request
from functions.http.operations import Parameter
from functions.http.requests import bearer_token
from functions.http.startup import once
from functions.http.throttle import Throttle, counting_failures, failure_throttle

if TYPE_CHECKING:
    from functions.core.snapshot.key_keeper import KeyKeeper

ENVIRONMENT = Parameter(
    ENVIRONMENT_PARAMETER,
    "the environment to act on; omitted: the key's own, or the default environment",
    schema={"type": "string", "pattern": ENVIRONMENT_PATTERN},
)


class KeyCheckSettings(Protocol):
    @property
    def auth_database_url(self) -> str: ...
    @property
    def redis_url(self) -> str: ...
    @property
    def grant_secret(self) -> str: ...
    @property
    def key_check_seconds(self) -> float: ...
    @property
    def default_environment(self) -> str: ...
    @property
    def auth_failure_limit(self) -> int: ...
    @property
    def auth_failure_window_seconds(self) -> int: ...
    @property
    def trusted_proxies(self) -> str: ...


class KeyCheck:
    """One per function; what it holds (the keys, the failure counts, the usage notes)
    is built on first use and belongs to the function that owns `settings` (see
    `startup.reset`)."""

    def __init__(self, settings: Callable[[], KeyCheckSettings], owner: str | None = None) -> None:
        """`owner`: the function module it belongs to; by default the one creating it."""
        self._settings = settings
        owner = owner or sys._getframe(1).f_globals["__name__"]
        self._keeper = once(self._build_keeper, owner=owner)
        self._failures = once(self._build_failures, owner=owner)
        self._usage = once(self._build_usage, owner=owner)

    def _build_keeper(self) -> KeyKeeper:
        from functions.core.snapshot.key_keeper import KeyKeeper  # PostgreSQL: loaded on use

        config = self._settings()
        keeper = KeyKeeper(
            auth_database_url=config.auth_database_url,
            redis_factory=lambda: redis_client(config.redis_url),
            signer=Signer(config.grant_secret),
            check_seconds=config.key_check_seconds,
        )
        keeper.start()
        metrics.current().before_flush(lambda: _key_figures(keeper))
        return keeper

    def _build_failures(self) -> Throttle:
        config = self._settings()
        return failure_throttle(config, config.redis_url)

    def _build_usage(self) -> KeyUsage:
        url = self._settings().redis_url
        return KeyUsage(lambda: redis_client(url))

    @property
    def keeper(self) -> KeyKeeper:
        return self._keeper()

    def caller(self, request: Request, scope: str) -> Caller:
        """The caller behind the bearer key (or 401; 429 once its client failed too
        often), holding `scope` (or 403)."""
        caller = counting_failures(self._failures(), request, lambda: self._caller(request))
        caller.require(scope)
        return caller

    def _caller(self, request: Request) -> Caller:
        token = bearer_token(request)
        if not token:
            raise refused(Refusal.missing())
        if not looks_like_key(token):
            raise refused(Refusal.not_a_key())
        now = time.time()
        answer = self.keeper.lookup(
            hash_key(token), now, before_waiting=lambda: self._failures().check(request)
        )
        lookups = metrics.current().key_cache_lookups
        if isinstance(answer, Refusal):
            lookups.labels("miss").inc()
            raise refused(answer)
        lookups.labels("hit").inc()
        self._usage().note(answer.key_id, now)
        return Caller(
            key_id=answer.key_id,
            name=answer.name,
            scopes=answer.scopes,
            environment=answer.environment,
        )

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


def _key_figures(keeper: KeyKeeper) -> None:
    """The keys' version this process holds, at each metrics flush."""
    metrics.current().snapshot_version.labels("keys").set(keeper.version.version)
