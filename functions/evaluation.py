"""The evaluation function: the hot path that decides flags and emits events."""

from __future__ import annotations

import os

import flask
import functions_framework

from functions.core.adapters import aws
from functions.core.adapters.config_api import ConfigApi
from functions.core.adapters.readiness import redis_check
from functions.core.adapters.redis_clients import redis_client
from functions.core.events.publisher import EventPublisher, sqs_sender
from functions.core.models.evaluation import EvaluateRequest, EvaluationResult
from functions.core.names import MAX_FLAG_NAME, MAX_USER_ID
from functions.core.services.evaluation import EvaluationService
from functions.core.settings import EvaluationSettings
from functions.core.snapshot.reader import FlagReader
from functions.http.access import ENVIRONMENT, KeyCheck
from functions.http.openapi import add_openapi
from functions.http.operations import Access, Parameter
from functions.http.probes import add_probes
from functions.http.requests import read_json, text_query
from functions.http.responses import json_response
from functions.http.router import Router
from functions.http.startup import once

router = Router("evaluation", __doc__)


@once
def settings() -> EvaluationSettings:
    return EvaluationSettings.from_env(os.environ)


keys = KeyCheck(settings)


RESERVED_PARAMETERS = {"user_id", "flag_name", "environment"}


@once
def publisher() -> EventPublisher:
    config = settings()
    sqs = aws.client("sqs", config.aws_region, config.aws_endpoint_url)
    return EventPublisher(
        sqs_sender(sqs, config.aws_sqs_url),
        capacity=config.event_buffer_size,
        flush_seconds=config.event_flush_seconds,
    )


@once
def service() -> EvaluationService:
    config = settings()
    source = ConfigApi(
        flag_service_url=config.flag_service_url,
        targeting_service_url=config.targeting_service_url,
        service_api_key=config.service_api_key,
    )
    reader = FlagReader(
        redis_client=redis_client(config.redis_url),
        source=source,
        ttl_seconds=config.config_cache_ttl_seconds,
    )
    return EvaluationService(reader=reader, publisher=publisher())


add_probes(router, lambda: {"redis": redis_check(settings().redis_url)})
add_openapi(router)


@router.route(
    "/evaluate",
    "GET",
    summary="Decide one flag for one user (the seed's call)",
    responses={200: EvaluationResult},
    parameters=[
        Parameter(
            "user_id",
            "who is asking",
            required=True,
            schema={"type": "string", "minLength": 1, "maxLength": MAX_USER_ID},
        ),
        Parameter(
            "flag_name",
            "the flag to decide; an unknown flag is false",
            required=True,
            schema={"type": "string", "minLength": 1, "maxLength": MAX_FLAG_NAME},
        ),
        ENVIRONMENT,
        Parameter(
            "attributes",
            "any other parameter is an attribute of the context, as a string",
            free_form=True,
        ),
    ],
    errors=[404],
    access=Access.KEY,
)
def evaluate(request: flask.Request) -> flask.Response:
    environment = keys.environment(request, "evaluate")
    user_id = text_query(request, "user_id", limit=MAX_USER_ID)
    flag_name = text_query(request, "flag_name", limit=MAX_FLAG_NAME)
    attributes = {k: v for k, v in request.args.items() if k not in RESERVED_PARAMETERS}
    return json_response(
        service().evaluate(
            flag_name=flag_name, user_id=user_id, environment=environment, attributes=attributes
        )
    )


@router.route(
    "/evaluate",
    "POST",
    summary="Decide one flag for a context with typed attributes",
    body=EvaluateRequest,
    responses={200: EvaluationResult},
    parameters=[ENVIRONMENT],
    errors=[404],
    access=Access.KEY,
)
def evaluate_context(request: flask.Request) -> flask.Response:
    """`{"flag_name", "context": {"user_id" | "targetingKey", ...attributes}}`: typed
    attributes (numbers, booleans, lists) for the conditions that compare them."""
    environment = keys.environment(request, "evaluate")
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
