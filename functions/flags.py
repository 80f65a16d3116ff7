"""The flags function: flag CRUD over the configuration database."""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from functions.core.auth_client import AuthClient
from functions.core.config import ConfigStoreSettings
from functions.core.flag_service import FlagService
from functions.core.logs import configure_logging
from functions.core.models import CreateFlagRequest, UpdateFlagRequest
from functions.core.readiness import database_check, redis_check
from functions.web import Router, add_probes, authenticate, json_response, no_content, read_json

router = Router()


@functools.cache
def settings() -> ConfigStoreSettings:
    return ConfigStoreSettings.from_env(os.environ)


@functools.cache
def service() -> FlagService:
    return FlagService(database_url=settings().database_url, redis_url=settings().redis_url)


@functools.cache
def auth_client() -> AuthClient:
    return AuthClient(settings().auth_service_url)


def configure() -> None:
    """Start-up: validate the configuration before the server takes requests."""
    configure_logging("flags", settings().log_level)


add_probes(
    router,
    lambda: {
        "database": database_check(settings().database_url, ["flags"]),
        "redis": redis_check(settings().redis_url),
    },
)


@router.route("/flags", "GET")
def list_flags(request: flask.Request) -> flask.Response:
    authenticate(request, auth_client(), scope="read")
    return json_response([flag.model_dump(mode="json") for flag in service().list_flags()])


@router.route("/flags", "POST")
def create_flag(request: flask.Request) -> flask.Response:
    authenticate(request, auth_client(), scope="write")
    return json_response(service().create_flag(read_json(request, CreateFlagRequest)), status=201)


@router.route("/flags/<name>", "GET")
def get_flag(request: flask.Request, name: str) -> flask.Response:
    authenticate(request, auth_client(), scope="read")
    return json_response(service().get_flag(name))


@router.route("/flags/<name>", "PUT")
def update_flag(request: flask.Request, name: str) -> flask.Response:
    authenticate(request, auth_client(), scope="write")
    return json_response(service().update_flag(name, read_json(request, UpdateFlagRequest)))


@router.route("/flags/<name>", "DELETE")
def delete_flag(request: flask.Request, name: str) -> flask.Response:
    authenticate(request, auth_client(), scope="write")
    service().delete_flag(name)
    return no_content()


@functions_framework.http
def flags(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
