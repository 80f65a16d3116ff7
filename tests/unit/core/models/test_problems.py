"""Validation errors said in ToggleMaster's words: the field at fault, what it must be
instead, and for an unknown field the ones accepted; never the library's phrasing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from functions.core.models.config_file import ConfigDocument
from functions.core.models.environments import CreateEnvironmentRequest, PromoteRequest
from functions.core.models.evaluation import BulkEvaluateRequest, EvaluateRequest
from functions.core.models.flags import CreateFlagRequest, UpdateFlagRequest
from functions.core.models.keys import CreateKeyRequest, RotateKeyRequest
from functions.core.models.ofrep import EvaluationRequest
from functions.core.models.problems import Problem, problems
from functions.core.models.targeting import (
    CreateRuleRequest,
    CreateSegmentRequest,
    SegmentBody,
    UpdateRuleRequest,
)

GRACE = "'grace_seconds' must be a whole number from 0 to 2592000"
LIBRARY_PHRASES = ("Input should", "Extra inputs", "Value error", "String should", "valid integer")


def _problems(model: type[BaseModel], body: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    found = problems(caught.value, model)
    for problem in found:
        assert not any(phrase in problem.message for phrase in LIBRARY_PHRASES), problem
    return found


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (CreateFlagRequest, {"name": "typo_flag", "is_enable": True}, "is_enable"),
        (UpdateFlagRequest, {"enabled": False}, "enabled"),
        (CreateEnvironmentRequest, {"key": "qa", "title": "QA"}, "title"),
        (PromoteRequest, {"from": "staging", "to": "production", "dryrun": True}, "dryrun"),
        (CreateKeyRequest, {"name": "ci", "scope": ["read"]}, "scope"),
        (RotateKeyRequest, {"grace": 60}, "grace"),
        (CreateRuleRequest, {"flag_name": "f", "rules": {}, "enabled": True}, "enabled"),
        (UpdateRuleRequest, {"rule": {}}, "rule"),
        (CreateSegmentRequest, {"key": "beta", "include": ["u1"]}, "include"),
        (SegmentBody, {"exclude": ["u1"]}, "exclude"),
        (EvaluateRequest, {"flag_name": "f", "context": {"user_id": "u"}, "env": "x"}, "env"),
        (BulkEvaluateRequest, {"context": {"user_id": "u"}, "flag": ["f"]}, "flag"),
    ],
)
def test_problems__unknown_field__named_with_the_accepted_ones(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    # Given / When a body with a misspelt field is validated
    found = _problems(model, body)
    # Then the problem names the field and lists every accepted field
    unknown = next(problem for problem in found if problem.unknown)
    assert unknown.field == field
    assert unknown.accepted == tuple(
        info.alias or name for name, info in model.model_fields.items()
    )
    assert unknown.message.startswith(f"unknown field '{field}'; accepted fields: ")


def test_problems__create_flag_typo__the_issue_s_message() -> None:
    # Given / When
    (found,) = _problems(CreateFlagRequest, {"name": "typo_flag", "is_enable": True})
    # Then
    assert found.message == (
        "unknown field 'is_enable'; accepted fields: name, description, is_enabled, type,"
        " variants, off_variant, default_variant, tags, owner"
    )


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (CreateFlagRequest, {}, "'name' is required"),
        (
            CreateFlagRequest,
            {"name": "ok", "is_enabled": "true"},
            "'is_enabled' must be true or false",
        ),
        (CreateFlagRequest, {"name": "ok", "description": 7}, "'description' must be a string"),
        (
            CreateFlagRequest,
            {"name": "has spaces"},
            "'name' must be 1 to 100 of A-Z, a-z, 0-9, '_', '.' and '-', starting with a"
            " letter or digit",
        ),
        (
            CreateFlagRequest,
            {"name": "ok", "type": "colour"},
            "'type' must be one of 'boolean', 'string', 'number' or 'json'",
        ),
        (CreateFlagRequest, {"name": "ok", "tags": [""]}, "'tags[0]' must be 1 to 50 of"),
        (
            RotateKeyRequest,
            {"grace_seconds": "60"},
            GRACE,
        ),
        (
            RotateKeyRequest,
            {"grace_seconds": -5},
            GRACE,
        ),
        (
            RotateKeyRequest,
            {"grace_seconds": 1.5},
            GRACE,
        ),
        (
            CreateKeyRequest,
            {"name": "x", "expires_at": "yesterday"},
            "'expires_at' must be a date and time with its time zone",
        ),
        (
            CreateKeyRequest,
            {"name": "x", "environment": "Not Valid"},
            "'environment' must be 1 to 64 of a-z, 0-9, '_' and '-'",
        ),
        (
            CreateKeyRequest,
            {"name": "x", "scopes": ["read", "read"]},
            "'scopes' must not list a scope twice",
        ),
        (CreateKeyRequest, {"name": "x", "scopes": []}, "'scopes' must list at least 1 item(s)"),
        (CreateKeyRequest, {"name": ""}, "'name' is required"),
        (CreateRuleRequest, {"flag_name": "f", "rules": 30}, "'rules' must be an object or a list"),
        (EvaluateRequest, {"flag_name": "f", "context": []}, "'context' must be an object"),
        (
            EvaluateRequest,
            {"flag_name": "f", "context": {"user_id": "u"}, "environment": "Prod"},
            "'environment' must be 1 to 64 of a-z",
        ),
    ],
)
def test_problems__mistyped_value__says_what_it_must_be(
    model: type[BaseModel], body: dict[str, Any], message: str
) -> None:
    # Given / When a body with a mistyped value is validated
    found = _problems(model, body)
    # Then the first problem names the field and what it must be, in our words
    assert found[0].message.startswith(message), found[0].message
    assert not found[0].unknown


def test_problems__nested_unknown_field__path_and_the_fields_of_its_object() -> None:
    # Given an import document with a typo deep inside (an environment named like a field)
    document = {
        "environments": [{"key": "rule"}],
        "flags": [
            {
                "name": "f",
                "environments": {"rule": {"enabled": True, "rule": {"rules": {}, "enable": True}}},
            }
        ],
    }
    # When
    (found,) = _problems(ConfigDocument, document)
    # Then the path goes through the dictionary key, and the accepted fields are the rule's
    assert found.path == "$.flags[0].environments.rule.rule.enable"
    assert found.accepted == ("enabled", "rules", "grammar")


def test_problems__ofrep_request__extra_members_not_refused() -> None:
    # Given / When an OFREP body with a member the protocol may add later
    body = EvaluationRequest.model_validate({"context": {"targetingKey": "u"}, "later": 1})
    # Then it is read, as the protocol allows
    assert body.context == {"targetingKey": "u"}


def test_problems__evaluation_context__attributes_free_form() -> None:
    # Given / When a context with attributes no model names
    body = EvaluateRequest.model_validate(
        {"flag_name": "f", "context": {"user_id": "u", "plan": "pro", "seats": 3}}
    )
    # Then they are kept as sent
    assert body.context == {"user_id": "u", "plan": "pro", "seats": 3}
