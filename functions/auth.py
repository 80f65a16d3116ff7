"""The auth function: issues, manages and validates API keys.

`/admin/*` takes the master key or a key with the `admin` scope; `/validate` takes any
valid key; `/environments/<env>/keys` takes the master key or a `write` or `admin` key
that is unbound or bound to `<env>`.

Rate limits per client (`http.throttle`): every `/admin/*` request counts against
`ADMIN_RATE_LIMIT`, every refused key against `AUTH_FAILURE_LIMIT`; a client over
either gets 429 before its key is looked up (a check here costs a query).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import flask
import functions_framework

from functions.core.adapters.database_readiness import database_check
from functions.core.adapters.readiness import Check, redis_check
from functions.core.errors import InvalidValue
from functions.core.models.keys import (
    AuditEntry,
    AuthStats,
    CreatedKey,
    CreateKeyRequest,
    EnvironmentKeys,
    KeyInfo,
    RotateKeyRequest,
    Validation,
)
from functions.core.names import ENVIRONMENT_RULE, is_environment_name
from functions.core.services.keys import Actor, AuthService
from functions.core.settings import AuthSettings
from functions.http import wsgi
from functions.http.messages import Request, Response
from functions.http.openapi import add_openapi
from functions.http.operations import Access, Parameter
from functions.http.probes import add_probes
from functions.http.requests import bearer_token, int_query, read_json
from functions.http.responses import json_response
from functions.http.router import Router
from functions.http.startup import once
from functions.http.throttle import Throttle, counting_failures, failure_throttle

router = Router("auth", __doc__)
T = TypeVar("T")


@once
def settings() -> AuthSettings:
    return AuthSettings.from_env(os.environ)


MAX_AUDIT_PAGE = 1000


@once
def service() -> AuthService:
    config = settings()
    return AuthService(
        database_url=config.database_url,
        master_key=config.master_key,
        redis_url=config.redis_url,
        grant_secret=config.grant_secret,
        config_database_url=config.config_database_url,
    )


@once
def failures() -> Throttle:
    config = settings()
    return failure_throttle(config, config.redis_url)


@once
def admin_requests() -> Throttle:
    config = settings()
    return Throttle(
        "admin",
        limit=config.admin_rate_limit,
        window_seconds=config.admin_rate_window_seconds,
        message="too many requests to /admin from this client",
        redis_url=config.redis_url,
        trusted_proxies=config.trusted_proxies,
    )


def admin(request: Request) -> Actor:
    """Who manages keys (the master key or an admin key), once the client is within its
    /admin rate and has not failed to authenticate too often."""
    admin_requests().count(request)
    return checked_key(request, lambda: service().authorize_admin(bearer_token(request)))


def checked_key(request: Request, check: Callable[[], T]) -> T:
    """`check()` of the request's key, refused at once (429) for a client that failed
    too often; a refusal counts as a failure."""
    failures().check(request)
    return counting_failures(failures(), request, check)


class _Counters:
    """How many `/validate` calls this process answered: the other functions' cache
    misses, which `GET /admin/stats` shows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.validations = 0

    def count_validation(self) -> None:
        with self._lock:
            self.validations += 1


counters = _Counters()


def _checks() -> dict[str, Check]:
    config = settings()
    checks = {"database": database_check(config.database_url, ["auth"])}
    if config.redis_url:
        checks["redis"] = redis_check(config.redis_url)
    return checks


add_probes(router, _checks)
add_openapi(router)

ADMIN = Access.MASTER


@router.route(
    "/admin/keys",
    "POST",
    summary="Create an API key (its plaintext is shown once)",
    body=CreateKeyRequest,
    responses={201: CreatedKey},
    access=ADMIN,
)
def create_key(request: Request) -> Response:
    actor = admin(request)
    body = read_json(request, CreateKeyRequest)
    return json_response(service().create_key(body, actor=actor), status=201)


@router.route(
    "/admin/keys", "GET", summary="List the API keys", responses={200: list[KeyInfo]}, access=ADMIN
)
def list_keys(request: Request) -> Response:
    admin(request)
    return json_response(service().list_keys())


@router.route(
    "/admin/keys/<int:key_id>",
    "GET",
    summary="Describe one API key",
    responses={200: KeyInfo},
    errors=[404],
    access=ADMIN,
)
def show_key(request: Request, key_id: int) -> Response:
    admin(request)
    return json_response(service().get_key(key_id))


@router.route(
    "/admin/keys/<int:key_id>/revoke",
    "POST",
    summary="Revoke an API key, at once and everywhere",
    responses={200: KeyInfo},
    errors=[404],
    access=ADMIN,
)
def revoke_key(request: Request, key_id: int) -> Response:
    actor = admin(request)
    return json_response(service().revoke_key(key_id, actor=actor))


@router.route(
    "/admin/keys/<int:key_id>/rotate",
    "POST",
    summary="Replace an API key, the old one working for a grace period",
    body=RotateKeyRequest,
    body_required=False,
    responses={201: CreatedKey},
    errors=[404, 409],
    access=ADMIN,
)
def rotate_key(request: Request, key_id: int) -> Response:
    actor = admin(request)
    body = read_json(request, RotateKeyRequest, optional=True)
    return json_response(service().rotate_key(key_id, body, actor=actor), status=201)


@router.route(
    "/admin/audit",
    "GET",
    summary="Key changes, newest first",
    responses={200: list[AuditEntry]},
    parameters=[
        Parameter(
            "limit",
            "entries per page",
            schema={"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_PAGE, "default": 100},
        ),
        Parameter(
            "before_id",
            "the next page: entries older than this id",
            schema={"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        ),
    ],
    access=ADMIN,
)
def audit(request: Request) -> Response:
    admin(request)
    limit = int_query(request, "limit", default=100, low=1, high=MAX_AUDIT_PAGE)
    before_id = int_query(request, "before_id", default=None, low=1, high=2**63 - 1)
    entries = service().audit(limit=limit or 1, before_id=before_id)
    return json_response(entries)


@router.route(
    "/admin/stats",
    "GET",
    summary="This process's validation count",
    responses={200: AuthStats},
    access=ADMIN,
)
def stats(request: Request) -> Response:
    admin(request)
    return json_response(AuthStats(pid=os.getpid(), validations=counters.validations))


@router.route(
    "/validate",
    "GET",
    summary="Whether the bearer key is valid, and what it may do",
    responses={200: Validation},
    errors=[401, 503],
    access=Access.KEY,
)
def validate(request: Request) -> Response:
    counters.count_validation()
    return json_response(checked_key(request, lambda: service().validate(bearer_token(request))))


@router.route(
    "/environments/<environment>/keys",
    "GET",
    summary="How many active keys are bound to an environment",
    responses={200: EnvironmentKeys},
    access=Access.KEY,
)
def environment_keys(request: Request, environment: str) -> Response:
    checked_key(request, lambda: service().authorize_key_count(bearer_token(request), environment))
    if not is_environment_name(environment):
        raise InvalidValue(
            f"an environment name is {ENVIRONMENT_RULE}",
            field="environment",
        )
    count = service().active_keys_in(environment)
    return json_response(EnvironmentKeys(environment=environment, active_keys=count))


@functions_framework.http
def auth(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)
