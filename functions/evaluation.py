"""The evaluation function: the hot path that decides flags and emits events."""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from functions.core import aws
from functions.core.auth_client import AuthClient
from functions.core.cache import redis_client
from functions.core.config import EvaluationSettings
from functions.core.errors import BadRequest
from functions.core.evaluation_service import MAX_FLAG_NAME, EvaluationService
from functions.core.event_publisher import EventPublisher, sqs_sender
from functions.core.flag_config import FlagConfigReader
from functions.core.logs import configure_logging
from functions.core.models import MAX_USER_ID, EvaluateRequest
from functions.core.readiness import redis_check
from functions.web import (
    Router,
    acting_environment,
    add_probes,
    authenticate,
    json_response,
    read_json,
)

router = Router()

RESERVED_PARAMETERS = {"user_id", "flag_name", "environment"}


@functools.cache
def settings() -> EvaluationSettings:
    return EvaluationSettings.from_env(os.environ)


@functools.cache
def auth_client() -> AuthClient:
    return AuthClient(settings().auth_service_url, redis_url=settings().redis_url)


@functools.cache
def publisher() -> EventPublisher:
    config = settings()
    sqs = aws.client("sqs", config.aws_region, config.aws_endpoint_url)
    return EventPublisher(
        sqs_sender(sqs, config.aws_sqs_url),
        capacity=config.event_buffer_size,
        flush_seconds=config.event_flush_seconds,
    )


@functools.cache
def service() -> EvaluationService:
    config = settings()
    reader = FlagConfigReader(
        redis_client=redis_client(config.redis_url),
        flag_service_url=config.flag_service_url,
        targeting_service_url=config.targeting_service_url,
        service_api_key=config.service_api_key,
        ttl_seconds=config.config_cache_ttl_seconds,
    )
    return EvaluationService(reader=reader, publisher=publisher())


def configure() -> None:
    """Start-up: validate the configuration before the server takes requests."""
    configure_logging("evaluation", settings().log_level)


add_probes(router, lambda: {"redis": redis_check(settings().redis_url)})


def _required(request: flask.Request, name: str, limit: int) -> str:
    value = request.args.get(name, "")
    if not value:
        raise BadRequest(f"query parameter '{name}' is required", parameter=name)
    if len(value) > limit:
        raise BadRequest(
            f"query parameter '{name}' is longer than {limit} characters", parameter=name
        )
    return value


def _environment(request: flask.Request) -> str:
    caller = authenticate(request, auth_client(), scope="evaluate")
    return acting_environment(request, caller, default=settings().default_environment)


@router.route("/evaluate", "GET")
def evaluate(request: flask.Request) -> flask.Response:
    environment = _environment(request)
    user_id = _required(request, "user_id", MAX_USER_ID)
    flag_name = _required(request, "flag_name", MAX_FLAG_NAME)
    attributes = {k: v for k, v in request.args.items() if k not in RESERVED_PARAMETERS}
    return json_response(
        service().evaluate(
            flag_name=flag_name, user_id=user_id, environment=environment, attributes=attributes
        )
    )


@router.route("/evaluate", "POST")
def evaluate_context(request: flask.Request) -> flask.Response:
    """`{"flag_name", "context": {"user_id" | "targetingKey", ...attributes}}`: typed
    attributes (numbers, booleans, lists) for the conditions that compare them."""
    environment = _environment(request)
    body = read_json(request, EvaluateRequest)
    return json_response(
        service().evaluate(
            flag_name=body.flag_name,
            user_id=body.user_id,
            environment=environment,
            attributes=body.context,
        )
    )


@functions_framework.http
def evaluation(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
