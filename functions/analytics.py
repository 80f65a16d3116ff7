"""The analytics function: stores the evaluation events delivered as CloudEvents, and
answers who got what and which flags nobody evaluates.

Knative's SQS source (or `make dev`'s forwarder) POSTs each SQS message to `/` as a
CloudEvent whose data is the raw message body: a pack of events signed by evaluation.
It is an HTTP target that parses the CloudEvent itself so that the same service also
answers the probes and the queries, which a CloudEvent-only target cannot. A 2xx means
stored: anything else makes the source deliver the message again, until the queue moves
it to its dead-letter queue.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import flask
import functions_framework
from cloudevents.exceptions import InvalidRequiredFields, MissingRequiredFields
from cloudevents.http import from_http

from functions.core.adapters.dynamodb import WRITERS, dynamodb_client
from functions.core.adapters.readiness import dynamodb_table_check
from functions.core.errors import BadRequest, InvalidValue
from functions.core.events.schema import SQS_MAX_MESSAGE_BYTES, SignedPack
from functions.core.keys.signing import Signer
from functions.core.models.analytics import (
    FlagActivity,
    FlagSeries,
    Receipt,
    StructuredCloudEvent,
)
from functions.core.services.analytics import AnalyticsService, RawPolicy
from functions.core.settings import AnalyticsSettings
from functions.core.stores.analytics import RawEventStore
from functions.core.stores.analytics_counts import CountsStore
from functions.http import wsgi
from functions.http.access import ENVIRONMENT, KeyCheck
from functions.http.messages import Request, Response
from functions.http.openapi import add_openapi
from functions.http.operations import JSON, Access, Parameter
from functions.http.probes import add_probes
from functions.http.requests import int_query
from functions.http.responses import json_response
from functions.http.router import Router
from functions.http.startup import once

router = Router("analytics", __doc__)


@once
def settings() -> AnalyticsSettings:
    return AnalyticsSettings.from_env(os.environ)


keys = KeyCheck(settings)


@once
def dynamodb() -> object:
    config = settings()
    return dynamodb_client(config.aws_region, config.aws_endpoint_url)


@once
def service() -> AnalyticsService:
    config = settings()
    return AnalyticsService(
        raw=RawEventStore(client=dynamodb(), table=config.aws_dynamodb_table, writers=WRITERS),
        counts=CountsStore(client=dynamodb(), table=config.aws_dynamodb_counts_table),
        signer=Signer(config.events_signing_secret),
        raw_policy=RawPolicy(config.raw_fraction, config.raw_events_retention_days),
        default_environment=config.default_environment,
        config_database_url=config.config_database_url,
    )


add_probes(
    router,
    lambda: {
        "dynamodb": dynamodb_table_check(dynamodb(), settings().aws_dynamodb_table),
        "dynamodb_counts": dynamodb_table_check(
            dynamodb(), settings().aws_dynamodb_counts_table, "AWS_DYNAMODB_COUNTS_TABLE"
        ),
    },
)
add_openapi(router)

_BINARY_MODE = "binary mode (the body is the data): required"


@router.route(
    "/",
    "POST",
    summary="Store the evaluation events a CloudEvent carries (a 2xx means stored)",
    body={
        JSON: SignedPack,
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
    errors=[403, 503],
)
def receive(request: Request) -> Response:
    """The data is a pack signed with `EVENTS_SIGNING_SECRET` (see `events/`); anything
    else is refused (403 unsigned or forged, 400 unreadable) and nothing is stored."""
    try:
        cloud_event = from_http(dict(request.headers), request.body)
    except Exception as exc:
        # The SDK only parses, yet lets malformed input escape as ValueError (a body that
        # is not UTF-8), TypeError (a specversion object), AttributeError (a structured
        # body that is not an object), RecursionError besides its own errors: all mean
        # "not a CloudEvent".
        raise BadRequest(f"not a CloudEvent: {_problem(exc)}") from None
    data = cloud_event.get_data()
    raw = data if isinstance(data, bytes | str) else json.dumps(data, sort_keys=True)
    return json_response(service().receive(raw, delivery_id=str(cloud_event["id"])))


def _problem(exc: Exception) -> str:
    """What was wrong, in a line: the SDK's own messages quote the body back (as Python
    bytes, all of it), so only those naming attributes are passed on."""
    message = str(exc)
    if (
        isinstance(exc, MissingRequiredFields | InvalidRequiredFields)
        and "following" not in message
    ):
        return message[:200]  # "Missing required attributes: {'id'}", "Found invalid specversion"
    return (
        "neither binary mode (a ce-specversion header) nor structured mode (a JSON object"
        " with a specversion)"
    )


_MOMENT = {"type": "string", "format": "date-time"}
FROM = Parameter(
    "from",
    "the window's start (ISO-8601, e.g. 2026-11-24T10:00:00Z); default: 7 days before to",
    schema=_MOMENT,
)
TO = Parameter("to", "the window's end, excluded (ISO-8601); default: now", schema=_MOMENT)


@router.route(
    "/analytics/flags/<name>",
    "GET",
    summary="A flag's evaluations by variant and result, hour by hour or day by day",
    responses={200: FlagSeries},
    parameters=[
        ENVIRONMENT,
        FROM,
        TO,
        Parameter(
            "granularity",
            "hour (default) or day (UTC days)",
            schema={"type": "string", "enum": ["hour", "day"]},
        ),
    ],
    access=Access.KEY,
)
def flag_series(request: Request, name: str) -> Response:
    """The window is whole hours: `from` rounded down, `to` rounded up; at most 400 days."""
    environment = keys.environment(request, "read")
    granularity = request.args.get("granularity", "hour")
    if granularity not in ("hour", "day"):
        raise InvalidValue(
            "query parameter 'granularity' must be hour or day", parameter="granularity"
        )
    return json_response(
        service().flag_series(
            name,
            environment=environment,
            start=_moment(request, "from"),
            end=_moment(request, "to"),
            granularity="hour" if granularity == "hour" else "day",
        )
    )


@router.route(
    "/analytics/flags",
    "GET",
    summary="Flags evaluated in a window with their counts, or defined but unused for N days",
    responses={200: FlagActivity},
    parameters=[
        ENVIRONMENT,
        FROM,
        TO,
        Parameter(
            "unused_days",
            "list instead the flags defined (not archived) for at least N days and not"
            " evaluated in them; takes no from or to",
            schema={"type": "integer", "minimum": 1, "maximum": 3650},
        ),
    ],
    access=Access.KEY,
)
def flag_activity(request: Request) -> Response:
    environment = keys.environment(request, "read")
    unused_days = int_query(request, "unused_days", default=None, low=1, high=3650)
    if unused_days is None:
        return json_response(
            service().activity(
                environment=environment,
                start=_moment(request, "from"),
                end=_moment(request, "to"),
            )
        )
    for name in ("from", "to"):
        if name in request.args:
            raise InvalidValue(
                f"query parameter '{name}' cannot go with unused_days, which is its own window",
                parameter=name,
            )
    return json_response(service().unused(environment=environment, days=unused_days))


def _moment(request: Request, name: str) -> datetime | None:
    """An ISO-8601 query parameter (UTC when it names no offset; a '+' offset must be sent
    as %2B); absent → None."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(
            f"query parameter '{name}' must be an ISO-8601 date and time such as"
            " 2026-11-24T10:00:00Z",
            parameter=name,
        ) from None
    if not 1970 < moment.year < 9000:
        raise InvalidValue(
            f"query parameter '{name}' must be between the years 1970 and 9000", parameter=name
        )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@functions_framework.http
def analytics(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)
