"""The targeting function: targeting rules per flag and environment, and segments
(shared by every environment)."""

from __future__ import annotations

import functools

import flask
import functions_framework

from functions import config_store
from functions.config_store import caller_for, environment_for, settings
from functions.core.environments import require_unbound
from functions.core.models import (
    CreateRuleRequest,
    CreateSegmentRequest,
    SegmentBody,
    UpdateRuleRequest,
)
from functions.core.targeting_service import TargetingService
from functions.web import (
    Router,
    json_response,
    no_content,
    read_json,
)

router = Router()


@functools.cache
def service() -> TargetingService:
    return TargetingService(database_url=settings().database_url, redis_url=settings().redis_url)


def configure() -> None:
    config_store.configure("targeting")


config_store.add_store_probes(router, "targeting", requires_tables=["flags"])


@router.route("/rules", "POST")
def create_rule(request: flask.Request) -> flask.Response:
    environment = environment_for(request, "write")
    body = read_json(request, CreateRuleRequest)
    return json_response(service().create_rule(body, environment=environment), status=201)


@router.route("/rules/<flag_name>", "GET")
def get_rule(request: flask.Request, flag_name: str) -> flask.Response:
    environment = environment_for(request, "read")
    return json_response(service().get_rule(flag_name, environment=environment))


@router.route("/rules/<flag_name>", "PUT")
def update_rule(request: flask.Request, flag_name: str) -> flask.Response:
    environment = environment_for(request, "write")
    body = read_json(request, UpdateRuleRequest)
    return json_response(service().update_rule(flag_name, body, environment=environment))


@router.route("/rules/<flag_name>", "DELETE")
def delete_rule(request: flask.Request, flag_name: str) -> flask.Response:
    service().delete_rule(flag_name, environment=environment_for(request, "write"))
    return no_content()


@router.route("/segments", "GET")
def list_segments(request: flask.Request) -> flask.Response:
    caller_for(request, scope="read")
    return json_response([segment.model_dump(mode="json") for segment in service().list_segments()])


@router.route("/segments", "POST")
def create_segment(request: flask.Request) -> flask.Response:
    _segment_writer(request)
    body = read_json(request, CreateSegmentRequest)
    return json_response(service().create_segment(body), status=201)


@router.route("/segments/<key>", "GET")
def get_segment(request: flask.Request, key: str) -> flask.Response:
    caller_for(request, scope="read")
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
    caller = caller_for(request, scope="write")
    require_unbound(caller, "change segments, which every environment shares")


@functions_framework.http
def targeting(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
