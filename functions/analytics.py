"""The analytics function: stores evaluation events delivered as CloudEvents.

Knative's SQS source (or `make dev`'s forwarder) POSTs each SQS message as a
CloudEvent whose data is the raw message body: a pack of events, or the seed's one
bare event. It is an HTTP target that parses the CloudEvent itself so that the
same service also answers `GET /health` and `GET /ready`, which a CloudEvent-only
target cannot. A 2xx means stored: anything else makes the source redeliver.
"""

from __future__ import annotations

import json
import os

import flask
import functions_framework
from cloudevents.http import from_http

from functions.core.adapters import aws
from functions.core.adapters.readiness import dynamodb_table_check
from functions.core.errors import BadRequest
from functions.core.events.schema import SQS_MAX_MESSAGE_BYTES, EvaluationEvent, EventPack
from functions.core.models.analytics import Receipt, StructuredCloudEvent
from functions.core.services.analytics import AnalyticsService
from functions.core.settings import AnalyticsSettings
from functions.core.stores.analytics import AnalyticsStore
from functions.http import wsgi
from functions.http.messages import Request, Response
from functions.http.openapi import add_openapi
from functions.http.operations import JSON, Parameter
from functions.http.probes import add_probes
from functions.http.responses import json_response
from functions.http.router import Router
from functions.http.startup import once

router = Router("analytics", __doc__)


@once
def settings() -> AnalyticsSettings:
    return AnalyticsSettings.from_env(os.environ)


@once
def dynamodb() -> object:
    config = settings()
    return aws.client("dynamodb", config.aws_region, config.aws_endpoint_url)


@once
def service() -> AnalyticsService:
    store = AnalyticsStore(client=dynamodb(), table=settings().aws_dynamodb_table)
    return AnalyticsService(store=store)


add_probes(
    router,
    lambda: {"dynamodb": dynamodb_table_check(dynamodb(), settings().aws_dynamodb_table)},
)
add_openapi(router)

_BINARY_MODE = "binary mode (the body is the data): required"


@router.route(
    "/",
    "POST",
    summary="Store the evaluation events a CloudEvent carries (a 2xx means stored)",
    body={
        JSON: EventPack | EvaluationEvent,
        "application/cloudevents+json": StructuredCloudEvent,
    },
    body_limit=2 * SQS_MAX_MESSAGE_BYTES,
    responses={200: Receipt},
    parameters=[
        Parameter("ce-specversion", _BINARY_MODE, "header", schema={"const": "1.0"}),
        Parameter("ce-id", _BINARY_MODE, "header"),
        Parameter("ce-source", _BINARY_MODE, "header"),
        Parameter("ce-type", _BINARY_MODE, "header"),
    ],
    errors=[503],
)
def receive(request: Request) -> Response:
    try:
        cloud_event = from_http(dict(request.headers), request.body)
    except Exception as exc:
        # The SDK only parses, yet lets malformed input escape as ValueError (a body that
        # is not UTF-8), TypeError (a specversion object), AttributeError (a structured
        # body that is not an object) besides its own errors: all mean "not a CloudEvent".
        raise BadRequest(f"not a CloudEvent: {exc}") from None
    data = cloud_event.get_data()
    raw = data if isinstance(data, bytes | str) else json.dumps(data, sort_keys=True)
    return json_response(service().receive(raw, delivery_id=str(cloud_event["id"])))


@functions_framework.http
def analytics(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)
