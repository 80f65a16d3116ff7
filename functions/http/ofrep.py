"""The OpenFeature Remote Evaluation Protocol (OFREP) on the evaluation function, as the
published description (open-feature/protocol `service/openapi.yaml`) has it, so that
every OpenFeature SDK's OFREP provider uses ToggleMaster unchanged.

- `POST /ofrep/v1/evaluate/flags/{key}`: one flag. 200 with `value`, `variant` (always:
  the Python provider turns a success without one into an error), `reason` and
  `metadata`; 400 `{"key", "errorCode", "errorDetails"}` for PARSE_ERROR,
  INVALID_CONTEXT, TARGETING_KEY_MISSING or GENERAL; 404 FLAG_NOT_FOUND.
- `POST /ofrep/v1/evaluate/flags`: every flag of the environment; an unknown flag never
  appears, a flag that fails is an item with `errorCode`. `ETag` / `If-None-Match` → 304.
- 401 and 403 have no body, as the protocol says. A key is sent as `Authorization:
  Bearer <key>` or `X-API-Key: <key>`.

Reasons: ToggleMaster's DEFAULT without any rule is the protocol's STATIC (the value
does not depend on the context); with rules that none matched, it stays DEFAULT.
PREREQUISITE_FAILED (a flag this one requires did not serve a listed variant) is sent as
DISABLED, with `metadata.reason` PREREQUISITE_FAILED and `metadata.prerequisite` naming
the flag: the protocol's `reason` is an open string, but OpenFeature's providers read
it into their closed Reason enum (the Python one with `Reason[...]`, which turns any
other name into a GENERAL error), and the flag does serve its off variant, as a
disabled one does.
`metadata` carries the freshness contract: `config_version`, `config_age_ms`, `stale`,
and the `environment` decided in; and when a rule decided, `rule_index` (its position)
and `rule_id` (its `id`, when it has one), in the snake_case of our other metadata
(OpenFeature names no key for the rule).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from functions.core import engine
from functions.core.errors import (
    BadRequest,
    EnvironmentNotFound,
    Forbidden,
    Unauthorized,
    Unprocessable,
)
from functions.core.models.errors import ErrorBody
from functions.core.models.ofrep import (
    BulkEvaluationSuccess,
    BulkFailure,
    EvaluationFailure,
    EvaluationRequest,
    EvaluationSuccess,
)
from functions.core.names import MAX_USER_ID
from functions.core.services.evaluation import Decision, EvaluationService
from functions.core.snapshot.keeper import Freshness
from functions.core.snapshot.state import Snapshot
from functions.http.access import ENVIRONMENT
from functions.http.messages import Request, Response
from functions.http.operations import Access, Parameter
from functions.http.requests import (
    api_key,
    refuse_repeated_parameters,
    refuse_unknown_parameters,
)
from functions.http.responses import fast_json_response
from functions.http.router import Router, note_denial
from functions.http.throttle import Throttle

PREFIX = "/ofrep/v1/evaluate/flags"
QUERY_PARAMETERS = frozenset({ENVIRONMENT.name})
"""What the protocol's routes take beyond the protocol: another is a GENERAL error."""

_API_KEY_HEADER = Parameter(
    "X-API-Key", "the API key, instead of `Authorization: Bearer`", location="header"
)


class _Refusal(Exception):
    """A request the protocol answers with an error code (400 unless said otherwise)."""

    def __init__(self, code: str, details: str, status: int = 400) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.status = status


def add_routes(
    router: Router,
    service: Callable[[], EvaluationService],
    failures: Callable[[], Throttle] | None = None,
) -> None:
    """OFREP's two routes on `router`; a refused key counts against its client in
    `failures` (429 with `Retry-After` over the limit, as the protocol allows)."""

    @router.route(
        PREFIX + "/<path:key>",
        "POST",
        summary="OFREP: decide one flag for a context",
        body=EvaluationRequest,
        responses={
            200: EvaluationSuccess,
            400: EvaluationFailure | ErrorBody,
            401: None,
            403: None,
            404: EvaluationFailure,
        },
        parameters=[ENVIRONMENT, _API_KEY_HEADER],
        access=Access.KEY,
    )
    def ofrep_evaluate_flag(request: Request, key: str) -> Response:
        evaluator = service()
        try:
            snapshot, environment = _access(evaluator, request)
        except _Refusal as exc:
            return fast_json_response(
                {"key": key, "errorCode": exc.code, "errorDetails": exc.details}, exc.status
            )
        except (Unauthorized, Forbidden) as exc:
            note_denial(exc)
            if failures is not None and isinstance(exc, Unauthorized):
                failures().count(request)
            return Response(b"", exc.status)
        try:
            context, user_id = _context(request)
        except _Refusal as exc:
            return fast_json_response(
                {"key": key, "errorCode": exc.code, "errorDetails": exc.details}, 400
            )
        decision = evaluator.decide(
            snapshot, environment=environment, flag_name=key, user_id=user_id, context=context
        )
        item = _item(decision, evaluator.freshness(), environment)
        if "errorCode" not in item:
            return fast_json_response(item)
        return fast_json_response(item, 404 if item["errorCode"] == "FLAG_NOT_FOUND" else 400)

    @router.route(
        PREFIX,
        "POST",
        summary="OFREP: decide every flag of the environment for a context",
        body=EvaluationRequest,
        responses={
            200: BulkEvaluationSuccess,
            304: None,
            400: BulkFailure | ErrorBody,
            401: None,
            403: None,
        },
        parameters=[
            ENVIRONMENT,
            _API_KEY_HEADER,
            Parameter("If-None-Match", "the ETag of an earlier answer", location="header"),
        ],
        access=Access.KEY,
    )
    def ofrep_evaluate_flags(request: Request) -> Response:
        """The `ETag` changes when, and only when, something in the environment's
        configuration changes (for the same request body)."""
        evaluator = service()
        try:
            snapshot, environment = _access(evaluator, request)
            context, _ = _context(request)
        except _Refusal as exc:
            return fast_json_response(
                {"errorCode": exc.code, "errorDetails": exc.details}, exc.status
            )
        except (Unauthorized, Forbidden) as exc:
            note_denial(exc)
            if failures is not None and isinstance(exc, Unauthorized):
                failures().count(request)
            return Response(b"", exc.status)
        tag = etag(snapshot.etag(environment), request.body)
        if not_modified(request, tag):
            return Response(b"", 304, {"ETag": tag})
        freshness = evaluator.freshness()
        decisions = evaluator.decide_all(snapshot, environment=environment, context=context)
        body = {
            "flags": [_item(decision, None, environment) for decision in decisions],
            "metadata": _metadata(freshness, environment),
        }
        return fast_json_response(body, headers={"ETag": tag})


def etag(environment_tag: str, body: bytes) -> str:
    """The environment's configuration version and the request that was answered: the
    same request gets the same tag until that environment's configuration changes."""
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return f'"{environment_tag}-{digest}"'


def not_modified(request: Request, tag: str) -> bool:
    """`If-None-Match` names `tag` (weak or strong) or is `*`."""
    sent = request.headers.get("if-none-match")
    if not sent:
        return False
    return sent.strip() == "*" or tag in (t.strip().removeprefix("W/") for t in sent.split(","))


def _access(evaluator: EvaluationService, request: Request) -> tuple[Snapshot, str]:
    snapshot = evaluator.snapshot()  # 503 while the first snapshot loads
    caller = evaluator.caller(snapshot, api_key(request))
    try:
        if request.query_string:
            refuse_unknown_parameters(request, QUERY_PARAMETERS)
            refuse_repeated_parameters(request, frozenset())
        environment = evaluator.environment(snapshot, caller, request.args.get("environment"))
    except (EnvironmentNotFound, BadRequest, Unprocessable) as exc:
        raise _Refusal("GENERAL", exc.message) from None
    return snapshot, environment


def _context(request: Request) -> tuple[dict[str, Any], str]:
    """The request's context with `user_id` set from `targetingKey`."""
    try:
        body = orjson.loads(request.body) if request.body.strip() else {}
    except ValueError as exc:
        raise _Refusal("PARSE_ERROR", f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Refusal("PARSE_ERROR", "the body must be a JSON object")
    context = body.get("context", {})
    if not isinstance(context, dict):
        raise _Refusal("INVALID_CONTEXT", "context must be a JSON object")
    targeting_key = context.get("targetingKey")
    if targeting_key is None or targeting_key == "":
        raise _Refusal("TARGETING_KEY_MISSING", "context.targetingKey is required")
    if not isinstance(targeting_key, str):
        raise _Refusal("INVALID_CONTEXT", "context.targetingKey must be a string")
    if len(targeting_key) > MAX_USER_ID:
        raise _Refusal(
            "INVALID_CONTEXT", f"context.targetingKey is longer than {MAX_USER_ID} characters"
        )
    return {**context, "user_id": targeting_key}, targeting_key


def _reason(decision: Decision) -> str:
    """The protocol's reason: it knows STATIC, TARGETING_MATCH, SPLIT, DISABLED and
    UNKNOWN only. DEFAULT without rules is STATIC; DEFAULT after rules that none matched
    (the fallthrough) is the outcome of targeting, TARGETING_MATCH, and the item's
    metadata says `reason: DEFAULT`."""
    reason = decision.resolution.reason
    if reason is engine.Reason.DEFAULT:
        return "TARGETING_MATCH" if decision.has_rules else "STATIC"
    if reason is engine.Reason.PREREQUISITE_FAILED:
        return "DISABLED"
    return str(reason)


def _item(decision: Decision, freshness: Freshness | None, environment: str) -> dict[str, Any]:
    resolution = decision.resolution
    if resolution.error_code is not None or resolution.variant is None:
        code = resolution.error_code or "GENERAL"
        if code == "PARSE_ERROR":
            code = "GENERAL"  # stored rules that no longer compile: not the request's fault
        return {
            "key": decision.flag_name,
            "errorCode": code,
            "errorDetails": resolution.error_message or code,
        }
    value = resolution.value
    if value is None or isinstance(value, list):
        return {
            "key": decision.flag_name,
            "errorCode": "GENERAL",
            "errorDetails": "the flag's value is null or an array, which OFREP cannot carry:"
            " use an object",
        }
    item: dict[str, Any] = {
        "key": decision.flag_name,
        "value": value,
        "reason": _reason(decision),
        "variant": resolution.variant,
    }
    metadata = {} if freshness is None else _metadata(freshness, environment)
    if resolution.reason is engine.Reason.DEFAULT and decision.has_rules:
        metadata["reason"] = "DEFAULT"
    elif resolution.reason is engine.Reason.PREREQUISITE_FAILED:
        metadata["reason"] = "PREREQUISITE_FAILED"
        if resolution.prerequisite is not None:
            metadata["prerequisite"] = resolution.prerequisite
    elif resolution.rule_index is not None:
        metadata["rule_index"] = resolution.rule_index
        if resolution.rule_id is not None:
            metadata["rule_id"] = resolution.rule_id
    if metadata:
        item["metadata"] = metadata
    return item


def _metadata(freshness: Freshness, environment: str) -> dict[str, Any]:
    return {
        "config_version": freshness.version,
        "config_age_ms": freshness.age_ms,
        "stale": freshness.stale,
        "environment": environment,
    }
