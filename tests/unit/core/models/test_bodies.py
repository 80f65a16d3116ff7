"""Bodies that were plain dicts keep their JSON exactly: the same fields, in the same
order, left out (not null) where they were left out."""

from __future__ import annotations

import json

from pydantic import BaseModel

from functions.core.errors import BadRequest, Forbidden, InternalError, ToggleMasterError
from functions.core.models.config_file import ExportedDocument, ImportResult
from functions.core.models.environments import Promotion
from functions.core.models.errors import InternalErrorBody
from functions.core.models.probes import CheckResult, Health, Readiness
from functions.http.responses import json_response


def _sent(body: BaseModel) -> str:
    return json_response(body).body.decode()


def test_error_body__details__after_error_and_code_in_order_sent() -> None:
    # Given an error with details
    error = BadRequest("bad", field="name", fields=[{"path": "$.name", "problem": "x"}])
    # When it becomes a body
    sent = _sent(error.to_body())
    # Then it is the old dict's JSON, byte for byte
    expected = {
        "error": "bad",
        "code": "bad_request",
        "field": "name",
        "fields": error.details["fields"],
    }
    assert sent == json.dumps(expected, separators=(",", ":"))


def test_error_body__internal_error__error_code_and_correlation_id_only() -> None:
    # Given / When
    body = InternalError("internal error", correlation_id="req-1").to_body()
    # Then
    assert isinstance(body, InternalErrorBody)
    assert (
        _sent(body) == '{"error":"internal error","code":"internal_error","correlation_id":"req-1"}'
    )


def test_error_body__base_class__plain_error_body() -> None:
    # Given / When
    sent = _sent(ToggleMasterError("boom").to_body())
    # Then
    assert sent == '{"error":"boom","code":"internal_error"}'


def test_error_body__nested_details__kept_as_sent() -> None:
    # Given a refusal listing plan items
    shared = [
        {"action": "changed", "flag": "f", "changes": {"description": {"from": None, "to": "d"}}}
    ]
    error = Forbidden("bound", key_environment="staging", shared_changes=shared)
    # When / Then
    assert json.loads(_sent(error.to_body()))["shared_changes"] == shared


def test_probe_bodies__ready_and_unready__error_only_when_failing() -> None:
    # Given / When
    ready = Readiness(status="ready", checks={"database": CheckResult(ok=True)})
    failing = Readiness(
        status="unavailable",
        checks={"redis": CheckResult(ok=False, error="REDIS_URL: cannot connect")},
        error="REDIS_URL: cannot connect",
    )
    # Then
    assert _sent(Health()) == '{"status":"ok"}'
    assert _sent(ready) == '{"status":"ready","checks":{"database":{"ok":true}}}'
    assert json.loads(_sent(failing)) == {
        "status": "unavailable",
        "checks": {"redis": {"ok": False, "error": "REDIS_URL: cannot connect"}},
        "error": "REDIS_URL: cannot connect",
    }


def test_promotion__from_alias__sent_as_from() -> None:
    # Given
    changes = {"rule": {"from": None, "to": {"is_enabled": True, "rules": {"type": "PERCENTAGE"}}}}
    raw = {"flag_name": "f", "from": "staging", "to": "production", "dry_run": True}
    # When
    promotion = Promotion.model_validate({**raw, "applied": False, "changes": changes})
    # Then
    assert json.loads(_sent(promotion)) == {**raw, "applied": False, "changes": changes}
    assert list(json.loads(_sent(promotion))) == [
        "flag_name", "from", "to", "dry_run", "applied", "changes"
    ]  # fmt: skip


def test_import_result__plan_items__absent_keys_left_out() -> None:
    # Given a plan as the service builds it
    raw = {
        "dry_run": True,
        "applied": False,
        "summary": {"created": 1, "changed": 1, "deleted": 0, "unchanged": 1},
        "plan": [
            {"action": "created", "segment": "beta"},
            {"action": "changed", "flag": "f", "environment": "staging",
             "changes": {"is_enabled": {"from": False, "to": True}}},
            {"action": "unchanged", "flag": "f", "environment": "production"},
        ],
    }  # fmt: skip
    # When
    sent = _sent(ImportResult.model_validate(raw))
    # Then the JSON is the dict's
    assert sent == json.dumps(raw, separators=(",", ":"))


def test_exported_document__segment_without_optional_members__left_out() -> None:
    # Given an export as the service builds it
    raw = {
        "version": 1,
        "environments": [{"key": "production", "name": "Production"}],
        "segments": [
            {"key": "beta", "included": ["u1"], "excluded": [], "grammar": 1},
            {"key": "pt", "name": "Portugal", "included": [], "excluded": [],
             "conditions": {"attribute": "country", "op": "eq", "value": "PT"}, "grammar": 2},
        ],
        "flags": [
            {"name": "f", "description": None, "type": "boolean",
             "variants": {"on": True, "off": False}, "off_variant": "off",
             "default_variant": "on", "tags": [], "owner": None, "archived": False,
             "environments": {"production": {"enabled": True, "rule": None}}},
        ],
    }  # fmt: skip
    # When
    sent = _sent(ExportedDocument.model_validate(raw))
    # Then
    assert sent == json.dumps(raw, separators=(",", ":"))
