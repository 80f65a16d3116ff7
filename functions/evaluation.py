"""The evaluation function: the hot path that decides flags and emits events.

It runs as an ASGI function (`functions_framework.aio`) and decides from the snapshot
this process holds (`functions.core.snapshot`): a warm request makes no network round
trip, its key check included. Every answer says how fresh that snapshot is.

Routes: the seed's `GET /evaluate`, `POST /evaluate` (typed context), `POST
/evaluate/all` (every flag for one context), and the OpenFeature Remote Evaluation
Protocol (`/ofrep/v1/...`, see `functions.ofrep`).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import functions_framework.aio
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from functions.core import metrics
from functions.core.adapters.redis_clients import redis_client
from functions.core.engine import Resolution
from functions.core.errors import Unauthorized, Unprocessable
from functions.core.keys.access import Caller
from functions.core.keys.signing import Signer
from functions.core.keys.usage import KeyUsage
from functions.core.memory import settle_long_lived
from functions.core.models.evaluation import (
    BulkEvaluateRequest,
    BulkEvaluationResult,
    EvaluateRequest,
    EvaluationResult,
)
from functions.core.models.probes import CheckResult
from functions.core.names import MAX_FLAG_NAME, MAX_USER_ID
from functions.core.services.evaluation import Decision, EvaluationService
from functions.core.settings import EvaluationSettings
from functions.core.snapshot.keeper import Freshness, SnapshotKeeper
from functions.core.snapshot.state import Snapshot
from functions.http import asgi, ofrep
from functions.http.access import ENVIRONMENT
from functions.http.messages import Request, Response
from functions.http.openapi import add_openapi
from functions.http.operations import Access, Parameter
from functions.http.probes import add_probes
from functions.http.requests import api_key, read_json, text_query
from functions.http.responses import fast_json_response
from functions.http.router import Router
from functions.http.startup import on_shutdown, once
from functions.http.throttle import Throttle, failure_throttle

if TYPE_CHECKING:
    from functions.core.events.publisher import EventPublisher, Sender
    from functions.core.events.relay import EventRelay

REQUEST_SUMMARY_SECONDS = 10.0
"""Successful answers are logged as one line per route and status this often, not one
line each: a line costs more than a decision (see `functions.http.request_log`)."""

router = Router("evaluation", __doc__, summarise_every=REQUEST_SUMMARY_SECONDS)

RESERVED_PARAMETERS = frozenset({"user_id", "flag_name", "environment"})
START_SETTLE_SECONDS = 60.0
"""How long a new worker waits for its first snapshot to settle its heap after it
(`memory.settle_long_lived`); a worker still loading then is left as it is."""


@once
def settings() -> EvaluationSettings:
    return EvaluationSettings.from_env(os.environ)


_relay: EventRelay | None = None
"""The main process's event relay, when `togglemaster-serve` started one before forking
this worker (`relay_events`)."""


def relay_events() -> EventRelay:
    """Called by `togglemaster-serve` in its main process before it forks the workers:
    that process sends their events to SQS (`functions.core.events.relay` says why)."""
    global _relay
    from functions.core.events.relay import EventRelay

    _relay = EventRelay(_sqs_sender)
    return _relay


def _sqs_sender() -> Sender:
    from functions.core.adapters import aws  # boto3: loaded where it sends, after start
    from functions.core.events.publisher import sqs_sender

    config = settings()
    sqs = aws.client("sqs", config.aws_region, config.aws_endpoint_url)
    return sqs_sender(sqs, config.aws_sqs_url)


@once
def publisher() -> EventPublisher:
    from functions.core.events.publisher import EventPublisher
    from functions.core.events.relay import RelaySender

    config = settings()
    # A worker forked after the relay started sends through it; any other process sends.
    relay = _relay if _relay is not None and not _relay.is_own_process() else None
    events = EventPublisher(
        RelaySender(relay.path) if relay is not None else _sqs_sender(),
        via="sqs" if relay is None else "relay",
        capacity=config.event_buffer_size,
        flush_seconds=config.event_flush_seconds,
        signer=Signer(config.events_signing_secret),
    )
    on_shutdown(events.close)
    return events


@once
def keeper() -> SnapshotKeeper:
    from functions.core.snapshot.sources import ConfigSource, KeySource, ReadOnlyDatabase

    config = settings()
    held = SnapshotKeeper(
        redis_factory=lambda: redis_client(config.redis_url),
        config_source=ConfigSource(ReadOnlyDatabase(config.config_database_url)),
        key_source=KeySource(ReadOnlyDatabase(config.auth_database_url)),
        check_seconds=config.config_check_seconds,
        stale_after=config.config_stale_seconds,
        signer=Signer(config.grant_secret),
    )
    held.start()
    on_shutdown(held.stop)
    metrics.current().before_flush(lambda: _snapshot_figures(held))
    return held


def _snapshot_figures(held: SnapshotKeeper) -> None:
    """The snapshot's gauges, brought up to date at each metrics flush of this worker."""
    gauges = metrics.current()
    freshness = held.freshness()
    snapshot = held.current
    age = freshness.age_ms / 1000
    for source, version in (("config", snapshot.config.version), ("keys", snapshot.keys.version)):
        gauges.snapshot_version.labels(source).set(version)
        gauges.snapshot_age_seconds.labels(source).set(age)
    gauges.snapshot_stale.set(1 if freshness.stale else 0)


@once
def service() -> EvaluationService:
    config = settings()
    return EvaluationService(
        keeper=keeper(),
        publisher=publisher(),
        default_environment=config.default_environment,
        usage=KeyUsage(lambda: redis_client(config.redis_url)),
    )


@once
def failures() -> Throttle:
    config = settings()
    return failure_throttle(config, config.redis_url)


def checked_caller(evaluator: EvaluationService, snapshot: Snapshot, request: Request) -> Caller:
    """The caller behind the request's key, from the snapshot. A refused key counts
    against its client (`AUTH_FAILURE_LIMIT`, 429 over it): on the failure path only."""
    try:
        return evaluator.caller(snapshot, api_key(request))
    except Unauthorized:
        failures().count(request)
        raise


def warm() -> None:
    """Called where the server loads the function. The server's workers are forked from
    that process: each starts loading its snapshot, in a thread, as soon as it exists,
    so it answers `/health` at once and decisions when loaded. Nothing starts before
    the fork (a fork copies no threads, and one forked in the middle of an import
    would deadlock); without a fork the first request starts it."""
    os.register_at_fork(after_in_child=_start_in_background)


def _start_in_background() -> None:
    threading.Thread(target=_start, name="evaluation-start", daemon=True).start()


def _start() -> None:
    """Build the service (its snapshot starts loading); once loaded, settle the heap."""
    held = service().keeper
    if held.wait_loaded(START_SETTLE_SECONDS):
        settle_long_lived()


def _snapshot_check() -> CheckResult:
    """Ready once a snapshot is loaded, stale or not (it answers from the last known
    good one); the detail says how old it is."""
    held = keeper()
    status = held.status()
    if not held.loaded:
        return CheckResult(
            ok=False, error=held.problem() or "no configuration loaded yet", detail=status
        )
    return CheckResult(ok=True, error=held.problem(), detail=status)


add_probes(router, lambda: {"snapshot": _snapshot_check})
add_openapi(router)


@router.route(
    "/status",
    "GET",
    summary="What this worker process holds: snapshot version, age and source; events",
    responses={200: dict},
)
def status(request: Request) -> Response:
    body = {"snapshot": keeper().status(), "events": publisher().stats(), "pid": os.getpid()}
    return fast_json_response(body)


EVALUATE_PARAMETERS = [
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
]


@router.route(
    "/evaluate",
    "GET",
    summary="Decide one flag for one user (the seed's call)",
    responses={200: EvaluationResult},
    parameters=EVALUATE_PARAMETERS,
    errors=[404],
    access=Access.KEY,
)
def evaluate(request: Request) -> Response:
    evaluator = service()
    snapshot = evaluator.snapshot()
    caller = checked_caller(evaluator, snapshot, request)
    args = request.args
    environment = evaluator.environment(snapshot, caller, args.get("environment"))
    user_id = text_query(args, "user_id", limit=MAX_USER_ID)
    flag_name = text_query(args, "flag_name", limit=MAX_FLAG_NAME)
    context: dict[str, object] = {
        name: value for name, value in args.items() if name not in RESERVED_PARAMETERS
    }
    context["user_id"] = user_id
    decision = evaluator.decide(
        snapshot, environment=environment, flag_name=flag_name, user_id=user_id, context=context
    )
    return fast_json_response(_answer(decision, user_id, environment, evaluator.freshness()))


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
def evaluate_context(request: Request) -> Response:
    """`{"flag_name", "context": {"user_id" | "targetingKey", ...attributes}}`: typed
    attributes (numbers, booleans, lists) for the conditions that compare them."""
    evaluator = service()
    snapshot = evaluator.snapshot()
    caller = checked_caller(evaluator, snapshot, request)
    body = read_json(request, EvaluateRequest)
    environment = evaluator.environment(snapshot, caller, requested_environment(request, body))
    decision = evaluator.decide(
        snapshot,
        environment=environment,
        flag_name=body.flag_name,
        user_id=body.user_id,
        context=body.context,
    )
    return fast_json_response(_answer(decision, body.user_id, environment, evaluator.freshness()))


@router.route(
    "/evaluate/all",
    "POST",
    summary="Decide every flag of the environment (or those listed) for one context",
    body=BulkEvaluateRequest,
    responses={200: BulkEvaluationResult, 304: None},
    parameters=[
        ENVIRONMENT,
        Parameter("If-None-Match", "the ETag of an earlier answer", location="header"),
    ],
    errors=[404],
    access=Access.KEY,
)
def evaluate_all(request: Request) -> Response:
    """Answers an `ETag`; sent back in `If-None-Match`, it gets 304 until something in the
    environment's configuration changes. No events: this is what a client caches."""
    evaluator = service()
    snapshot = evaluator.snapshot()
    caller = checked_caller(evaluator, snapshot, request)
    body = read_json(request, BulkEvaluateRequest)
    environment = evaluator.environment(snapshot, caller, requested_environment(request, body))
    tag = ofrep.etag(snapshot.etag(environment), request.body)
    if ofrep.not_modified(request, tag):
        return Response(b"", 304, {"ETag": tag})
    decisions = evaluator.decide_all(
        snapshot, environment=environment, context=body.context, flag_names=body.flags
    )
    freshness = evaluator.freshness()
    flags = {}
    for decision in decisions:
        resolution = decision.resolution
        answer: dict[str, object] = {
            "result": decision.result,
            "value": resolution.value,
            "variant": resolution.variant,
            "reason": resolution.reason,
        }
        if resolution.rule_index is not None:
            add_rule(answer, resolution)
        if resolution.error_code is not None:
            answer["error_code"] = resolution.error_code
        flags[decision.flag_name] = answer
    return fast_json_response(
        {
            "user_id": body.user_id,
            "environment": environment,
            "flags": flags,
            "config_version": freshness.version,
            "config_age_ms": freshness.age_ms,
            "stale": freshness.stale,
        },
        headers={"ETag": tag},
    )


ofrep.add_routes(router, service, failures)


def requested_environment(
    request: Request, body: EvaluateRequest | BulkEvaluateRequest
) -> str | None:
    """The environment `?environment=` or the body names (None: neither). Both, and not
    the same one, is refused: deciding in either would surprise someone."""
    asked = request.args.get("environment")
    if asked is not None and body.environment is not None and asked != body.environment:
        raise Unprocessable(
            f"the query string asks for environment '{asked}' and the body for"
            f" '{body.environment}': name it in one place only",
            field="environment",
            parameter="environment",
        )
    return body.environment if asked is None else asked


def _answer(
    decision: Decision, user_id: str, environment: str, freshness: Freshness
) -> dict[str, object]:
    resolution = decision.resolution
    answer: dict[str, object] = {
        "flag_name": decision.flag_name,
        "user_id": user_id,
        "result": decision.result,
        "value": resolution.value,
        "variant": resolution.variant,
        "reason": resolution.reason,
        "environment": environment,
        "config_version": freshness.version,
        "config_age_ms": freshness.age_ms,
        "stale": freshness.stale,
    }
    if resolution.rule_index is not None:
        add_rule(answer, resolution)
    if resolution.prerequisite is not None:
        answer["prerequisite"] = resolution.prerequisite
    if resolution.error_code is not None:
        answer["error_code"] = resolution.error_code
    return answer


def add_rule(answer: dict[str, object], resolution: Resolution) -> None:
    """The rule that decided: `rule_index`, and `rule_id` when the rule has an id."""
    answer["rule_index"] = resolution.rule_index
    if resolution.rule_id is not None:
        answer["rule_id"] = resolution.rule_id


@functions_framework.aio.http
async def evaluation(request: StarletteRequest) -> StarletteResponse:
    return await asgi.handle(router, request)
