"""The targeting function: targeting rules per flag and environment, and segments
(shared by every environment)."""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from functions.core.auth_client import AuthClient
from functions.core.config import ConfigStoreSettings
from functions.core.environments import require_unbound
from functions.core.logs import configure_logging
from functions.core.models import (
    CreateRuleRequest,
    CreateSegmentRequest,
    SegmentBody,
    UpdateRuleRequest,
)
from functions.core.readiness import database_check, redis_check
from functions.core.targeting_service import TargetingService
from functions.web import (
    Router,
    acting_environment,
    add_probes,
    authenticate,
    json_response,
    no_content,
    read_json,
)

router = Router()


@functools.cache
def settings() -> ConfigStoreSettings:
    return ConfigStoreSettings.from_env(os.environ)


@functools.cache
def service() -> TargetingService:
    return TargetingService(database_url=settings().database_url, redis_url=settings().redis_url)


@functools.cache
def auth_client() -> AuthClient:
    return AuthClient(settings().auth_service_url)


def configure() -> None:
    """Start-up: validate the configuration before the server takes requests."""
    configure_logging("targeting", settings().log_level)


add_probes(
    router,
    lambda: {
        "database": database_check(
            settings().database_url, ["targeting"], requires_tables=["flags"]
        ),
        "redis": redis_check(settings().redis_url),
    },
)


def _environment(request: flask.Request, scope: str) -> str:
    caller = authenticate(request, auth_client(), scope=scope)
    return acting_environment(request, caller, default=settings().default_environment)


@router.route("/rules", "POST")
def create_rule(request: flask.Request) -> flask.Response:
    environment = _environment(request, "write")
    body = read_json(request, CreateRuleRequest)
    return json_response(service().create_rule(body, environment=environment), status=201)


@router.route("/rules/<flag_name>", "GET")
def get_rule(request: flask.Request, flag_name: str) -> flask.Response:
    environment = _environment(request, "read")
    return json_response(service().get_rule(flag_name, environment=environment))


@router.route("/rules/<flag_name>", "PUT")
def update_rule(request: flask.Request, flag_name: str) -> flask.Response:
    environment = _environment(request, "write")
    body = read_json(request, UpdateRuleRequest)
    return json_response(service().update_rule(flag_name, body, environment=environment))


@router.route("/rules/<flag_name>", "DELETE")
def delete_rule(request: flask.Request, flag_name: str) -> flask.Response:
    service().delete_rule(flag_name, environment=_environment(request, "write"))
    return no_content()


@router.route("/segments", "GET")
def list_segments(request: flask.Request) -> flask.Response:
    authenticate(request, auth_client(), scope="read")
    return json_response([segment.model_dump(mode="json") for segment in service().list_segments()])


@router.route("/segments", "POST")
def create_segment(request: flask.Request) -> flask.Response:
    _segment_writer(request)
    body = read_json(request, CreateSegmentRequest)
    return json_response(service().create_segment(body), status=201)


@router.route("/segments/<key>", "GET")
def get_segment(request: flask.Request, key: str) -> flask.Response:
    authenticate(request, auth_client(), scope="read")
    return json_response(service().get_segment(key))


@router.route("/segments/<key>", "PUT")
def update_segment(request: flask.Request, key: str) -> flask.Response:
    _segment_writer(request)
    body = read_json(request, SegmentBody)
    return json_response(service().update_segment(key, body))


@router.route("/segments/<key>", "DELETE")
def delete_segment(request: flask.Request, key: str) -> flask.Response:
    _segment_writer(request)
    service().delete_segment(key)
    return no_content()


def _segment_writer(request: flask.Request) -> None:
    """Segments serve every environment: only an unbound key with `write` changes them."""
    caller = authenticate(request, auth_client(), scope="write")
    require_unbound(caller, "change segments, which every environment shares")


@functions_framework.http
def targeting(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
