"""The auth function: issues API keys and validates them."""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from functions.core.auth_service import AuthService
from functions.core.config import AuthSettings
from functions.core.logs import configure_logging
from functions.core.models import CreateKeyRequest
from functions.core.readiness import database_check
from functions.web import Router, add_probes, bearer_token, json_response, read_json

router = Router()


@functools.cache
def settings() -> AuthSettings:
    return AuthSettings.from_env(os.environ)


@functools.cache
def service() -> AuthService:
    return AuthService(database_url=settings().database_url, master_key=settings().master_key)


def configure() -> None:
    """Start-up: validate the configuration before the server takes requests."""
    configure_logging("auth", settings().log_level)


add_probes(router, lambda: {"database": database_check(settings().database_url, ["auth"])})


@router.route("/admin/keys", "POST")
def create_key(request: flask.Request) -> flask.Response:
    service().require_master(bearer_token(request))
    body = read_json(request, CreateKeyRequest)
    return json_response(service().issue_key(name=body.name), status=201)


@router.route("/validate", "GET")
def validate(request: flask.Request) -> flask.Response:
    key = service().validate(bearer_token(request))
    return json_response({"message": "API key is valid", "id": key.id, "name": key.name})


@functions_framework.http
def auth(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
