"""What the OpenFeature Remote Evaluation Protocol (OFREP 0.3, `service/openapi.yaml` of
open-feature/protocol) requires of a server, as JSON Schemas of our own, and what
ToggleMaster promises on top of it.

The published description is not loaded at test time: these schemas restate the parts
the tests check, so a change upstream is a decision for us, not a surprise. Two places
where the description cannot be used literally:

- a success's value is a `oneOf` of boolean, string, integer, float, object and
  "code default" (no value); `codeDefaultFlag` is an object with no constraint, so it
  matches every success and an integer is also a float: read strictly, no success is
  valid. We check the intent: `value`, when present, is a boolean, string, number or
  object.
- its `evaluationFailure` error codes exclude `FLAG_NOT_FOUND`, which its single-flag
  404 (`flagNotFound`) and its bulk example use: not found has a schema of its own.

ToggleMaster's stricter contract (``TM_*``): a success always carries `value` and
`variant` (the Python provider reads `variant` unconditionally and turns its absence into
a GENERAL error), an error always carries `errorDetails` (the same provider's 400
handling reads it unconditionally), and `metadata` carries the freshness of the decision.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs

SINGLE_PATH = "/ofrep/v1/evaluate/flags/{key}"
BULK_PATH = "/ofrep/v1/evaluate/flags"

REASONS = ("STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "UNKNOWN")
"""The only reasons a success may carry: OpenFeature's DEFAULT, ERROR, CACHED and STALE
are not in the protocol's enum."""
ERROR_CODES = ("PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL")
"""A 400's (and a bulk item failure's) error codes; FLAG_NOT_FOUND goes with a 404."""

_METADATA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["boolean", "string", "number"]},
}
_VALUE: dict[str, Any] = {"type": ["boolean", "string", "number", "object"]}

SUCCESS: dict[str, Any] = {
    "type": "object",
    "required": ["key", "reason"],
    "properties": {
        "key": {"type": "string"},
        "reason": {"enum": list(REASONS)},
        "variant": {"type": "string"},
        "metadata": _METADATA,
        "value": _VALUE,
    },
}
FAILURE: dict[str, Any] = {
    "type": "object",
    "required": ["key", "errorCode"],
    "properties": {
        "key": {"type": "string"},
        "errorCode": {"enum": list(ERROR_CODES)},
        "errorDetails": {"type": "string"},
        "metadata": _METADATA,
    },
}
NOT_FOUND: dict[str, Any] = {
    "type": "object",
    "required": ["key", "errorCode"],
    "properties": {
        "key": {"type": "string"},
        "errorCode": {"const": "FLAG_NOT_FOUND"},
        "errorDetails": {"type": "string"},
        "metadata": _METADATA,
    },
}
BULK_SUCCESS: dict[str, Any] = {
    "type": "object",
    "required": ["flags"],
    "properties": {
        "flags": {"type": "array", "items": {"oneOf": [SUCCESS, FAILURE]}},
        "metadata": _METADATA,
        "eventStreams": {"type": "array", "items": {"type": "object", "required": ["type"]}},
    },
}
BULK_FAILURE: dict[str, Any] = {
    "type": "object",
    "required": ["errorCode"],
    "properties": {"errorCode": {"type": "string"}, "errorDetails": {"type": "string"}},
}

FRESHNESS: dict[str, Any] = {
    "type": "object",
    "required": ["config_version", "config_age_ms", "stale", "environment"],
    "properties": {
        "config_version": {"type": "integer", "minimum": 0},
        "config_age_ms": {"type": "integer", "minimum": 0},
        "stale": {"type": "boolean"},
        "environment": {"type": "string", "minLength": 1},
    },
}
TM_SUCCESS: dict[str, Any] = {
    "allOf": [SUCCESS],
    "required": ["key", "value", "reason", "variant", "metadata"],
    "properties": {"metadata": FRESHNESS},
}
TM_BULK_ITEM: dict[str, Any] = {
    "oneOf": [
        {"allOf": [SUCCESS], "required": ["value", "variant"]},
        {"allOf": [FAILURE], "required": ["errorDetails"]},
    ]
}
TM_FAILURE: dict[str, Any] = {"allOf": [FAILURE], "required": ["errorDetails"]}
TM_NOT_FOUND: dict[str, Any] = {"allOf": [NOT_FOUND], "required": ["errorDetails"]}
TM_BULK_SUCCESS: dict[str, Any] = {
    "allOf": [BULK_SUCCESS],
    "required": ["flags", "metadata"],
    "properties": {"flags": {"items": TM_BULK_ITEM}, "metadata": FRESHNESS},
}
TM_BULK_FAILURE: dict[str, Any] = {"allOf": [BULK_FAILURE], "required": ["errorDetails"]}


def problems(schema: dict[str, Any], instance: object) -> list[str]:
    """Every way `instance` breaks `schema`, each as "path: message" ([] when valid)."""
    validator = jsonschema_rs.Draft202012Validator(schema)
    return [
        f"$/{'/'.join(str(part) for part in error.instance_path)}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def assert_valid(schema: dict[str, Any], instance: object) -> None:
    found = problems(schema, instance)
    assert not found, f"{instance!r} breaks the OFREP contract: {found}"
