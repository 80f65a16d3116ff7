"""The targeting function: targeting rules per flag and environment, and segments
(shared by every environment)."""

from __future__ import annotations

import os

import flask
import functions_framework

from functions.core.adapters.database_readiness import database_check
from functions.core.adapters.readiness import redis_check
from functions.core.keys.access import require_unbound
from functions.core.models.targeting import (
    CreateRuleRequest,
    CreateSegmentRequest,
    Rule,
    Segment,
    SegmentBody,
    UpdateRuleRequest,
)
from functions.core.services.segments import SegmentService
from functions.core.services.targeting import TargetingService
from functions.core.settings import TargetingSettings
from functions.http import wsgi
from functions.http.access import ENVIRONMENT, KeyCheck
from functions.http.messages import Request, Response
from functions.http.openapi import add_openapi
from functions.http.operations import IF_MATCH, Access
from functions.http.probes import add_probes
from functions.http.requests import if_match, read_json
from functions.http.responses import json_response, no_content, versioned_response
from functions.http.router import Router
from functions.http.startup import once

router = Router("targeting", __doc__)


@once
def settings() -> TargetingSettings:
    return TargetingSettings.from_env(os.environ)


keys = KeyCheck(settings)


@once
def rules() -> TargetingService:
    return TargetingService(database_url=settings().database_url, redis_url=settings().redis_url)


@once
def segments() -> SegmentService:
    return SegmentService(database_url=settings().database_url, redis_url=settings().redis_url)


add_probes(
    router,
    lambda: {
        "database": database_check(
            settings().database_url, ["targeting"], requires_tables=["flags"]
        ),
        "redis": redis_check(settings().redis_url),
    },
)
add_openapi(router)

KEY = Access.KEY


@router.route(
    "/rules",
    "POST",
    summary="Create a flag's targeting rule in the environment",
    body=CreateRuleRequest,
    responses={201: Rule},
    parameters=[ENVIRONMENT],
    errors=[404, 409, 422],
    access=KEY,
    versioned=True,
)
def create_rule(request: Request) -> Response:
    environment = keys.environment(request, "write")
    body = read_json(request, CreateRuleRequest)
    return versioned_response(rules().create_rule(body, environment=environment), status=201)


@router.route(
    "/rules/<flag_name>",
    "GET",
    summary="A flag's targeting rule in the environment",
    responses={200: Rule},
    parameters=[ENVIRONMENT],
    errors=[404],
    access=KEY,
    versioned=True,
)
def get_rule(request: Request, flag_name: str) -> Response:
    """`ETag`: the rule's version; send it back in `If-Match` when changing or deleting
    the rule, so that a change made since is not lost."""
    environment = keys.environment(request, "read")
    return versioned_response(rules().get_rule(flag_name, environment=environment))


@router.route(
    "/rules/<flag_name>",
    "PUT",
    summary="Change a flag's targeting rule in the environment",
    body=UpdateRuleRequest,
    responses={200: Rule},
    parameters=[ENVIRONMENT, IF_MATCH],
    errors=[404, 409, 422],
    access=KEY,
    versioned=True,
)
def update_rule(request: Request, flag_name: str) -> Response:
    environment = keys.environment(request, "write")
    body = read_json(request, UpdateRuleRequest)
    rule = rules().update_rule(flag_name, body, environment=environment, if_match=if_match(request))
    return versioned_response(rule)


@router.route(
    "/rules/<flag_name>",
    "DELETE",
    summary="Delete a flag's targeting rule in the environment",
    responses={204: None},
    parameters=[ENVIRONMENT, IF_MATCH],
    errors=[404, 409],
    access=KEY,
)
def delete_rule(request: Request, flag_name: str) -> Response:
    environment = keys.environment(request, "write")
    rules().delete_rule(flag_name, environment=environment, if_match=if_match(request))
    return no_content()


@router.route(
    "/segments", "GET", summary="List the segments", responses={200: list[Segment]}, access=KEY
)
def list_segments(request: Request) -> Response:
    keys.caller(request, "read")
    return json_response(segments().list_segments())


@router.route(
    "/segments",
    "POST",
    summary="Create a segment (shared by every environment)",
    body=CreateSegmentRequest,
    responses={201: Segment},
    errors=[409, 422],
    access=KEY,
    versioned=True,
)
def create_segment(request: Request) -> Response:
    _segment_writer(request)
    body = read_json(request, CreateSegmentRequest)
    return versioned_response(segments().create_segment(body), status=201)


@router.route(
    "/segments/<key>",
    "GET",
    summary="One segment",
    responses={200: Segment},
    errors=[404],
    access=KEY,
    versioned=True,
)
def get_segment(request: Request, key: str) -> Response:
    """`ETag`: the segment's version; send it back in `If-Match` when changing or deleting
    the segment, so that a change made since is not lost."""
    keys.caller(request, "read")
    return versioned_response(segments().get_segment(key))


@router.route(
    "/segments/<key>",
    "PUT",
    summary="Replace a segment's audience",
    body=SegmentBody,
    responses={200: Segment},
    parameters=[IF_MATCH],
    errors=[404, 409, 422],
    access=KEY,
    versioned=True,
)
def update_segment(request: Request, key: str) -> Response:
    _segment_writer(request)
    body = read_json(request, SegmentBody)
    return versioned_response(segments().update_segment(key, body, if_match=if_match(request)))


@router.route(
    "/segments/<key>",
    "DELETE",
    summary="Delete a segment no targeting rule names",
    responses={204: None},
    parameters=[IF_MATCH],
    errors=[404, 409],
    access=KEY,
)
def delete_segment(request: Request, key: str) -> Response:
    _segment_writer(request)
    segments().delete_segment(key, if_match=if_match(request))
    return no_content()


def _segment_writer(request: Request) -> None:
    """Segments serve every environment: only an unbound key with `write` changes them."""
    caller = keys.caller(request, "write")
    require_unbound(caller, "change segments, which every environment shares")


@functions_framework.http
def targeting(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)
