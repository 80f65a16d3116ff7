"""The analytics function: stores evaluation events delivered as CloudEvents.

Knative's SQS source (or `make dev`'s forwarder) POSTs each SQS message as a
CloudEvent whose data is the raw message body: a pack of events, or the seed's one
bare event. It is an HTTP target that parses the CloudEvent itself so that the
same service also answers `GET /health` and `GET /ready`, which a CloudEvent-only
target cannot. A 2xx means stored: anything else makes the source redeliver.
"""

from __future__ import annotations

import functools
import logging
import os

import flask
import functions_framework
from botocore.exceptions import BotoCoreError, ClientError
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import from_http

from functions.core import aws
from functions.core.analytics_store import AnalyticsStore
from functions.core.config import AnalyticsSettings
from functions.core.errors import BadRequest, ServiceUnavailable
from functions.core.events import SQS_MAX_MESSAGE_BYTES, InvalidEventBody, parse_body
from functions.core.logs import configure_logging
from functions.core.readiness import Check
from functions.web import Router, add_probes, json_response, read_limited

router = Router()
log = logging.getLogger("togglemaster.analytics")


@functools.cache
def settings() -> AnalyticsSettings:
    return AnalyticsSettings.from_env(os.environ)


@functools.cache
def store() -> AnalyticsStore:
    config = settings()
    dynamodb = aws.client("dynamodb", config.aws_region, config.aws_endpoint_url)
    return AnalyticsStore(client=dynamodb, table=config.aws_dynamodb_table)


def configure() -> None:
    """Start-up: validate the configuration before the server takes requests."""
    configure_logging("analytics", settings().log_level)


def _table_check() -> Check:
    def check() -> dict[str, object]:
        config = settings()
        try:
            aws.client("dynamodb", config.aws_region, config.aws_endpoint_url).describe_table(
                TableName=config.aws_dynamodb_table
            )
        except (BotoCoreError, ClientError) as exc:
            return {"ok": False, "error": f"AWS_DYNAMODB_TABLE: {exc.__class__.__name__}: {exc}"}
        return {"ok": True}

    return check


add_probes(router, lambda: {"dynamodb": _table_check()})


@router.route("/", "POST")
def receive(request: flask.Request) -> flask.Response:
    body = read_limited(request, limit=2 * SQS_MAX_MESSAGE_BYTES)
    try:
        cloud_event = from_http(dict(request.headers), body)
    except CloudEventError as exc:
        raise BadRequest(f"not a CloudEvent: {exc}") from None
    data = cloud_event.get_data()
    raw = data if isinstance(data, bytes | str) else flask.json.dumps(data)
    try:
        parsed = parse_body(raw)
    except InvalidEventBody as exc:
        # Refused, not acknowledged: after its redeliveries the queue moves it to the DLQ.
        log.error(
            "event body refused", extra={"ce_id": cloud_event["id"], "problem": str(exc)[:500]}
        )
        raise BadRequest(f"not an evaluation event or pack: {str(exc)[:500]}") from None
    if parsed.refused:
        log.error(
            "events refused from a pack; the rest are stored",
            extra={
                "pack_id": parsed.pack_id,
                "refused": len(parsed.refused),
                "problems": parsed.refused[:5],
            },
        )
    try:
        store().put_events(parsed.events, pack_id=parsed.pack_id)
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        raise ServiceUnavailable(f"events not stored: {exc.__class__.__name__}") from exc
    return json_response(
        {"stored": len(parsed.events), "refused": len(parsed.refused), "pack_id": parsed.pack_id}
    )


@functions_framework.http
def analytics(request: flask.Request) -> flask.Response:
    return router.dispatch(request)
