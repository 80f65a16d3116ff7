"""The flags function: flags, their state per environment, and environments."""

from __future__ import annotations

import functools

import flask
import functions_framework

from functions import config_store
from functions.config_store import caller_for, environment_for, settings
from functions.core.bound_keys import BoundKeys
from functions.core.config_sync import parse_document
from functions.core.environments import require_access, require_unbound
from functions.core.flag_service import VARIANT_FIELDS, FlagService
from functions.core.models import (
    CreateEnvironmentRequest,
    CreateFlagRequest,
    PromoteRequest,
    UpdateEnvironmentRequest,
    UpdateFlagRequest,
)
from functions.web import (
    Router,
    acting_environment,
    bearer_token,
    flag_query,
    json_response,
    no_content,
    read_document,
    read_json,
    wants_yaml,
    yaml_response,
)

router = Router()

DECISION_FIELDS = VARIANT_FIELDS | {"archived"}

IMPORT_LIMIT_BYTES = 16 * 1024 * 1024


@functools.cache
def service() -> FlagService:
    config = settings()
    return FlagService(
        database_url=config.database_url,
        redis_url=config.redis_url,
        default_environment=config.default_environment,
    )


def configure() -> None:
    config_store.configure("flags")


config_store.add_store_probes(router, "flags")


@router.route("/flags", "GET")
def list_flags(request: flask.Request) -> flask.Response:
    """`?tag=a&tag=b`: only flags carrying every tag; `?archived=true`: archived ones too."""
    flags = service().list_flags(
        environment=environment_for(request, "read"),
        tags=request.args.getlist("tag"),
        include_archived=flag_query(request, "archived"),
    )
    return json_response([flag.model_dump(mode="json") for flag in flags])


@router.route("/flags", "POST")
def create_flag(request: flask.Request) -> flask.Response:
    environment = environment_for(request, "write")
    body = read_json(request, CreateFlagRequest)
    return json_response(service().create_flag(body, environment=environment), status=201)


@router.route("/flags/<name>", "GET")
def get_flag(request: flask.Request, name: str) -> flask.Response:
    return json_response(service().get_flag(name, environment=environment_for(request, "read")))


@router.route("/flags/<name>", "PUT")
def update_flag(request: flask.Request, name: str) -> flask.Response:
    caller = caller_for(request, scope="write")
    environment = acting_environment(request, caller, default=settings().default_environment)
    body = read_json(request, UpdateFlagRequest)
    if body.model_fields_set & DECISION_FIELDS:
        require_unbound(caller, "change a flag's variants or archive it in every environment")
    return json_response(service().update_flag(name, body, environment=environment))


@router.route("/flags/<name>", "DELETE")
def delete_flag(request: flask.Request, name: str) -> flask.Response:
    caller = caller_for(request, scope="write")
    require_unbound(caller, "delete a flag from every environment")
    service().delete_flag(name)
    return no_content()


@router.route("/flags/<name>/promote", "POST")
def promote_flag(request: flask.Request, name: str) -> flask.Response:
    caller = caller_for(request, scope="write")
    body = read_json(request, PromoteRequest)
    require_access(caller, body.from_, body.to)
    return json_response(
        service().promote(name, source=body.from_, target=body.to, dry_run=body.dry_run)
    )


@router.route("/export", "GET")
def export_configuration(request: flask.Request) -> flask.Response:
    caller = caller_for(request, scope="read")
    everything = caller.environment is None and "environment" not in request.args
    environment = None if everything else acting_environment(request, caller, default="")
    document = service().export(environment=environment)
    return yaml_response(document) if wants_yaml(request) else json_response(document)


@router.route("/import", "POST")
def import_configuration(request: flask.Request) -> flask.Response:
    caller = caller_for(request, scope="write")
    dry_run = flag_query(request, "dry_run")
    document = parse_document(read_document(request, limit=IMPORT_LIMIT_BYTES))
    require_access(caller, *(environment.key for environment in document.environments))
    return json_response(
        service().import_document(document, dry_run=dry_run, bound_to=caller.environment)
    )


@router.route("/environments", "GET")
def list_environments(request: flask.Request) -> flask.Response:
    caller_for(request, scope="read")
    environments = service().list_environments()
    return json_response([environment.model_dump(mode="json") for environment in environments])


@router.route("/environments", "POST")
def create_environment(request: flask.Request) -> flask.Response:
    caller = caller_for(request, scope="write")
    require_unbound(caller, "create environments")
    body = read_json(request, CreateEnvironmentRequest)
    return json_response(service().create_environment(body), status=201)


@router.route("/environments/<key>", "GET")
def get_environment(request: flask.Request, key: str) -> flask.Response:
    caller_for(request, scope="read")
    return json_response(service().get_environment(key))


@router.route("/environments/<key>", "PUT")
def rename_environment(request: flask.Request, key: str) -> flask.Response:
    caller = caller_for(request, scope="write")
    require_access(caller, key)
    body = read_json(request, UpdateEnvironmentRequest)
    return json_response(service().rename_environment(key, name=body.name))


@router.route("/environments/<key>", "DELETE")
def delete_environment(request: flask.Request, key: str) -> flask.Response:
    caller = caller_for(request, scope="write")
    require_unbound(caller, "delete environments")
    token = bearer_token(request) or ""
    counter = BoundKeys(settings().auth_service_url)
    service().delete_environment(
        key, bound_keys=lambda env: counter.count(token=token, environment=env)
    )
    return no_content()


@functions_framework.http
def flags(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
