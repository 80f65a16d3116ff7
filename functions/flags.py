"""The flags function: flags, their state per environment, environments, promotion,
configuration files (export and import), and the overview of every flag everywhere."""

from __future__ import annotations

import os
from urllib.parse import urlencode

import flask
import functions_framework

from functions.core.adapters.auth_api import BoundKeys
from functions.core.adapters.database_readiness import database_check
from functions.core.adapters.readiness import redis_check
from functions.core.keys.access import require_access, require_unbound
from functions.core.models.config_file import ConfigDocument, ExportedDocument, ImportResult
from functions.core.models.environments import (
    CreateEnvironmentRequest,
    Environment,
    PromoteRequest,
    Promotion,
    UpdateEnvironmentRequest,
)
from functions.core.models.flags import CreateFlagRequest, Flag, UpdateFlagRequest
from functions.core.models.overview import Overview
from functions.core.services.config_files import ConfigFileService, parse_document
from functions.core.services.environments import EnvironmentService
from functions.core.services.flags import FlagService
from functions.core.services.overview import OverviewService
from functions.core.services.promotion import PromotionService
from functions.core.settings import FlagsSettings
from functions.http import wsgi
from functions.http.access import ENVIRONMENT, KeyCheck
from functions.http.messages import Request, Response
from functions.http.openapi import add_openapi
from functions.http.operations import IF_MATCH, JSON, Access, Parameter
from functions.http.probes import add_probes
from functions.http.requests import (
    YAML_TYPES,
    bearer_token,
    bool_query,
    if_match,
    int_query,
    read_document,
    read_json,
    wants_yaml,
)
from functions.http.responses import (
    json_response,
    no_content,
    versioned_response,
    yaml_response,
)
from functions.http.router import Router
from functions.http.startup import once

router = Router("flags", __doc__)


@once
def settings() -> FlagsSettings:
    return FlagsSettings.from_env(os.environ)


keys = KeyCheck(settings)


def import_limit() -> int:
    """`IMPORT_MAX_BYTES`: the largest import body, in bytes."""
    return settings().import_max_bytes


@once
def flag_service() -> FlagService:
    return FlagService(database_url=settings().database_url, redis_url=settings().redis_url)


@once
def environment_service() -> EnvironmentService:
    config = settings()
    return EnvironmentService(
        database_url=config.database_url,
        redis_url=config.redis_url,
        default_environment=config.default_environment,
    )


@once
def promotion_service() -> PromotionService:
    return PromotionService(database_url=settings().database_url, redis_url=settings().redis_url)


@once
def overview_service() -> OverviewService:
    return OverviewService(database_url=settings().database_url)


@once
def config_file_service() -> ConfigFileService:
    return ConfigFileService(database_url=settings().database_url, redis_url=settings().redis_url)


add_probes(
    router,
    lambda: {
        "database": database_check(settings().database_url, ["flags"]),
        "redis": redis_check(settings().redis_url),
    },
)
add_openapi(router)

KEY = Access.KEY


@router.route(
    "/flags",
    "GET",
    summary="List flags, ordered by name, with their state in the environment",
    responses={200: list[Flag]},
    parameters=[
        ENVIRONMENT,
        Parameter("tag", "only flags carrying this tag (repeat for several)", repeatable=True),
        Parameter("archived", "true: archived flags too", schema={"type": "boolean"}),
    ],
    errors=[404],
    access=KEY,
)
def list_flags(request: Request) -> Response:
    """`?tag=a&tag=b`: only flags carrying every tag; `?archived=true`: archived ones too."""
    flags = flag_service().list_flags(
        environment=keys.environment(request, "read"),
        tags=request.args.getlist("tag"),
        include_archived=bool_query(request, "archived"),
    )
    return json_response(flags)


@router.route(
    "/flags",
    "POST",
    summary="Create a flag (off in every environment but as `is_enabled` says in this one)",
    body=CreateFlagRequest,
    responses={201: Flag},
    parameters=[ENVIRONMENT],
    errors=[404, 409, 422],
    access=KEY,
    versioned=True,
)
def create_flag(request: Request) -> Response:
    environment = keys.environment(request, "write")
    body = read_json(request, CreateFlagRequest)
    flag = flag_service().create_flag(body, environment=environment)
    return versioned_response(flag, status=201)


@router.route(
    "/flags/<name>",
    "GET",
    summary="One flag, with its state in the environment",
    responses={200: Flag},
    parameters=[ENVIRONMENT],
    errors=[404],
    access=KEY,
    versioned=True,
)
def get_flag(request: Request, name: str) -> Response:
    """`ETag`: the flag's version as this environment shows it; send it back in `If-Match`
    when changing or deleting the flag, so that a change made since is not lost."""
    environment = keys.environment(request, "read")
    return versioned_response(flag_service().get_flag(name, environment=environment))


@router.route(
    "/flags/<name>",
    "PUT",
    summary="Change a flag: its state in the environment, or its shared definition",
    body=UpdateFlagRequest,
    responses={200: Flag},
    parameters=[ENVIRONMENT, IF_MATCH],
    errors=[404, 409, 422],
    access=KEY,
    versioned=True,
)
def update_flag(request: Request, name: str) -> Response:
    """`is_enabled` is the flag's state in the environment; every other field is shared by
    all environments, so a key bound to one may send them only as they are (403 otherwise)."""
    caller = keys.caller(request, "write")
    environment = keys.acting_environment(request, caller)
    body = read_json(request, UpdateFlagRequest)
    flag = flag_service().update_flag(
        name,
        body,
        environment=environment,
        bound_to=caller.environment,
        if_match=if_match(request),
    )
    return versioned_response(flag)


@router.route(
    "/flags/<name>",
    "DELETE",
    summary="Delete a flag from every environment",
    responses={204: None},
    parameters=[
        Parameter(
            ENVIRONMENT.name,
            "where the ETag sent in If-Match was read (default: the default environment)",
            schema=ENVIRONMENT.schema,
        ),
        IF_MATCH,
    ],
    errors=[404, 409],
    access=KEY,
)
def delete_flag(request: Request, name: str) -> Response:
    caller = keys.caller(request, "write")
    require_unbound(caller, "delete a flag from every environment")
    environment = keys.acting_environment(request, caller)
    flag_service().delete_flag(name, environment=environment, if_match=if_match(request))
    return no_content()


@router.route(
    "/flags/<name>/promote",
    "POST",
    summary="Make one environment decide a flag like another (state and rule)",
    body=PromoteRequest,
    responses={200: Promotion},
    errors=[404, 409],
    access=KEY,
)
def promote_flag(request: Request, name: str) -> Response:
    caller = keys.caller(request, "write")
    body = read_json(request, PromoteRequest)
    require_access(caller, body.from_, body.to)
    return json_response(
        promotion_service().promote(name, source=body.from_, target=body.to, dry_run=body.dry_run)
    )


@router.route(
    "/export",
    "GET",
    summary="The configuration as a document (JSON, or YAML by Accept)",
    responses={200: ExportedDocument},
    response_media=(JSON, YAML_TYPES[0]),
    parameters=[ENVIRONMENT],
    errors=[404],
    access=KEY,
)
def export_configuration(request: Request) -> Response:
    caller = keys.caller(request, "read")
    environment = keys.environment_or_all(request, caller)
    document = config_file_service().export(environment=environment)
    return yaml_response(document) if wants_yaml(request) else json_response(document)


@router.route(
    "/import",
    "POST",
    summary="Make the listed environments hold exactly a document's configuration",
    body=ConfigDocument,
    body_media=(JSON, *YAML_TYPES),
    body_limit=import_limit,
    responses={200: ImportResult},
    parameters=[
        Parameter("dry_run", "true: only the plan, nothing applied", schema={"type": "boolean"})
    ],
    errors=[409, 422],
    access=KEY,
)
def import_configuration(request: Request) -> Response:
    caller = keys.caller(request, "write")
    dry_run = bool_query(request, "dry_run")
    document = parse_document(read_document(request, limit=import_limit()))
    require_access(caller, *(environment.key for environment in document.environments))
    return json_response(
        config_file_service().import_document(
            document, dry_run=dry_run, bound_to=caller.environment
        )
    )


OVERVIEW_LIMIT = 100
OVERVIEW_MAX_LIMIT = 500


@router.route(
    "/overview",
    "GET",
    summary="Every flag with its state, rules and last change in every environment, by name",
    responses={200: Overview},
    parameters=[
        Parameter("environment", "only this environment (default: every one the key sees)"),
        Parameter("tag", "only flags carrying this tag (repeat for several)", repeatable=True),
        Parameter("archived", "true: archived flags too", schema={"type": "boolean"}),
        Parameter(
            "limit",
            f"flags per page (default {OVERVIEW_LIMIT})",
            schema={"type": "integer", "minimum": 1, "maximum": OVERVIEW_MAX_LIMIT},
        ),
        Parameter("after", "the page after this flag name: what `next` carries"),
    ],
    errors=[404],
    access=KEY,
)
def overview(request: Request) -> Response:
    """A key bound to an environment sees that one; naming another is 403."""
    caller = keys.caller(request, "read")
    environment = keys.environment_or_all(request, caller)
    limit = (
        int_query(request, "limit", default=OVERVIEW_LIMIT, low=1, high=OVERVIEW_MAX_LIMIT)
        or OVERVIEW_LIMIT
    )
    page = overview_service().page(
        environment=environment,
        after=request.args.get("after"),
        limit=limit,
        tags=request.args.getlist("tag"),
        include_archived=bool_query(request, "archived"),
    )
    following = None
    if page.last_name is not None:
        query = [(name, value) for name, value in request.args.items(multi=True) if name != "after"]
        following = f"/overview?{urlencode([*query, ('after', page.last_name)])}"
    body = Overview(
        environments=page.environments,
        flags=page.flags,
        config_version=page.config_version,
        next=following,
    )
    return json_response(body)


@router.route(
    "/environments",
    "GET",
    summary="List the environments",
    responses={200: list[Environment]},
    access=KEY,
)
def list_environments(request: Request) -> Response:
    keys.caller(request, "read")
    return json_response(environment_service().list_environments())


@router.route(
    "/environments",
    "POST",
    summary="Create an environment (every flag starts off there)",
    body=CreateEnvironmentRequest,
    responses={201: Environment},
    errors=[409],
    access=KEY,
)
def create_environment(request: Request) -> Response:
    caller = keys.caller(request, "write")
    require_unbound(caller, "create environments")
    body = read_json(request, CreateEnvironmentRequest)
    return json_response(environment_service().create_environment(body), status=201)


@router.route(
    "/environments/<key>",
    "GET",
    summary="One environment",
    responses={200: Environment},
    errors=[404],
    access=KEY,
)
def get_environment(request: Request, key: str) -> Response:
    keys.caller(request, "read")
    return json_response(environment_service().get_environment(key))


@router.route(
    "/environments/<key>",
    "PUT",
    summary="Rename an environment",
    body=UpdateEnvironmentRequest,
    responses={200: Environment},
    errors=[404, 409],
    access=KEY,
)
def rename_environment(request: Request, key: str) -> Response:
    caller = keys.caller(request, "write")
    require_unbound(caller, "rename environments")
    body = read_json(request, UpdateEnvironmentRequest)
    return json_response(environment_service().rename_environment(key, name=body.name))


@router.route(
    "/environments/<key>",
    "DELETE",
    summary="Delete an environment no key is bound to, with its states and rules",
    responses={204: None},
    errors=[404, 409],
    access=KEY,
)
def delete_environment(request: Request, key: str) -> Response:
    caller = keys.caller(request, "write")
    require_unbound(caller, "delete environments")
    token = bearer_token(request) or ""
    counter = BoundKeys(settings().auth_service_url)
    environment_service().delete_environment(
        key, bound_keys=lambda env: counter.count(token=token, environment=env)
    )
    return no_content()


@functions_framework.http
def flags(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)
