"""What the flags and targeting functions share: their settings (both own tables in
the one configuration database), how they check keys, and how a request picks its
environment. Each is still its own target; this holds what would otherwise be
written twice."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import flask

from functions.core.auth_client import AuthClient, Caller
from functions.core.config import ConfigStoreSettings
from functions.core.logs import configure_logging
from functions.core.readiness import database_check, redis_check
from functions.web import Router, acting_environment, add_probes, authenticate


@functools.cache
def settings() -> ConfigStoreSettings:
    return ConfigStoreSettings.from_env(os.environ)


@functools.cache
def auth_client() -> AuthClient:
    config = settings()
    return AuthClient(config.auth_service_url, redis_url=config.redis_url)


def configure(service: str) -> None:
    """Start-up: validate the configuration before the server takes requests."""
    configure_logging(service, settings().log_level)


def add_store_probes(
    router: Router, component: str, *, requires_tables: Sequence[str] = ()
) -> None:
    add_probes(
        router,
        lambda: {
            "database": database_check(
                settings().database_url, [component], requires_tables=requires_tables
            ),
            "redis": redis_check(settings().redis_url),
        },
    )


def caller_for(request: flask.Request, scope: str) -> Caller:
    return authenticate(request, auth_client(), scope=scope)


def environment_for(request: flask.Request, scope: str) -> str:
    """The environment the request acts on, once its key holds `scope`."""
    caller = caller_for(request, scope)
    return acting_environment(request, caller, default=settings().default_environment)
