"""The gateway's one description: each function's routed paths, tagged; components kept
once when alike, renamed with their references when two functions define them apart."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from functions.devstack.merged_openapi import merge


def _document(title: str, paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": f"The {title} function.\n\nMore."},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _get(operation_id: str, schema: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                    },
                }
            },
        }
    }


def test_merge__clashing_and_shared_components__renamed_and_kept_once() -> None:
    # Given two functions that both define `Shared` alike and `Item` differently, and
    # `Wrapper` of evaluation refers to its own `Item`
    flags = _document(
        "flags",
        {"/flags": _get("health", "Item"), "/health": _get("probe", "Shared")},
        {"Item": {"type": "string"}, "Shared": {"type": "boolean"}},
    )
    evaluation = _document(
        "evaluation",
        {"/evaluate": _get("health", "Wrapper"), "/evaluate/all": _get("all", "Shared")},
        {
            "Item": {"type": "integer"},
            "Shared": {"type": "boolean"},
            "Wrapper": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        },
    )
    # When
    merged = merge({"flags": flags, "evaluation": evaluation})
    # Then the host's paths only, tagged; `Item` renamed for evaluation, refs following
    validate(merged)
    assert sorted(merged["paths"]) == ["/evaluate", "/evaluate/all", "/flags"]
    schemas = merged["components"]["schemas"]
    assert schemas["Item"] == {"type": "string"}
    assert schemas["EvaluationItem"] == {"type": "integer"}
    assert schemas["Shared"] == {"type": "boolean"}
    assert "EvaluationShared" not in schemas
    assert schemas["Wrapper"]["items"] == {"$ref": "#/components/schemas/EvaluationItem"}
    assert merged["paths"]["/evaluate"]["get"]["tags"] == ["evaluation"]
    assert merged["paths"]["/evaluate"]["get"]["operationId"] == "evaluation_health"
    assert merged["paths"]["/flags"]["get"]["operationId"] == "health"
    assert [tag["name"] for tag in merged["tags"]] == ["flags", "evaluation"]
    assert merged["tags"][0]["description"] == "The flags function."
