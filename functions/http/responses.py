"""Response bodies: JSON (from a model or plain data), YAML, no content, and errors.

`error_response` is the one place an error becomes a body; no handler builds one.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import yaml
from pydantic import BaseModel

from functions.core.errors import ToggleMasterError


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> flask.Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True)
    elif isinstance(body, list):
        body = [
            item.model_dump(mode="json", by_alias=True) if isinstance(item, BaseModel) else item
            for item in body
        ]
    payload = json.dumps(body, separators=(",", ":"), default=str)
    return flask.Response(payload, status=status, headers=headers, mimetype="application/json")


def yaml_response(body: Any, status: int = 200) -> flask.Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True)
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return flask.Response(text, status=status, mimetype="application/yaml")


def no_content() -> flask.Response:
    return flask.Response(status=204)


def error_response(error: ToggleMasterError) -> flask.Response:
    return json_response(error.to_body(), status=error.status)
