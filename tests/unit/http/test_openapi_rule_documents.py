"""The rule document and segment conditions in the descriptions clients read: the
targeting and flags functions' `/openapi.json` and the configuration file's schema carry
the grammar, and the README's documents are valid in it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from functions.commands.openapi import router_of
from functions.commands.schemas import ROOT
from functions.http.openapi import document

RULE_DOCUMENT = {"$ref": "#/components/schemas/RuleDocument"}
CONDITIONS = {"$ref": "#/components/schemas/SegmentConditions"}
README_JSON = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _property(schemas: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = schemas[model]["properties"][name]
    return found


def _refers_to(schema: dict[str, Any], target: dict[str, str]) -> bool:
    return schema.get("$ref") == target["$ref"] or target in schema.get("anyOf", [])


def _validator(described: dict[str, Any], target: dict[str, str]) -> Any:
    """A validator of `target` inside a whole OpenAPI description, its refs resolved there."""
    return jsonschema_rs.validator_for({**target, "components": described["components"]})


def test_targeting_description__rule_and_segment_bodies__carry_the_grammar() -> None:
    # Given the targeting function's description
    described = document(router_of("targeting"))
    schemas = described["components"]["schemas"]

    # Then requests and answers that hold documents refer to their schemas
    for model in ("CreateRuleRequest", "UpdateRuleRequest", "Rule"):
        assert _refers_to(_property(schemas, model, "rules"), RULE_DOCUMENT), model
    for model in ("SegmentBody", "CreateSegmentRequest", "Segment"):
        assert _refers_to(_property(schemas, model, "conditions"), CONDITIONS), model
    # and the grammar's new elements are spelt out
    text = json.dumps(described)
    for word in ("ip_in", "not_ip_in", "prerequisites", "case_insensitive", "numeric_strings"):
        assert f'"{word}"' in text, word
    assert schemas["NetworkCondition"]["properties"]["op"]["enum"] == ["ip_in", "not_ip_in"]
    segment_clause = {"$ref": "#/components/schemas/SegmentClause"}
    assert segment_clause in schemas["Clause"]["anyOf"]
    assert segment_clause not in schemas["SegmentConditions"]["anyOf"]


def test_flags_description__import_and_export__carry_the_grammar() -> None:
    # Given the flags function's description
    schemas = document(router_of("flags"))["components"]["schemas"]

    # Then the configuration file, sent and answered, refers to the document schemas
    assert _refers_to(_property(schemas, "RuleSpec", "rules"), RULE_DOCUMENT)
    assert _refers_to(_property(schemas, "ExportedRule", "rules"), RULE_DOCUMENT)
    assert _refers_to(_property(schemas, "SegmentSpec", "conditions"), CONDITIONS)
    assert _refers_to(_property(schemas, "ExportedSegment", "conditions"), CONDITIONS)


def test_config_file_schema__rule_spec__refers_to_the_rule_document() -> None:
    # Given the published schema of the configuration file
    published = json.loads(
        (ROOT / "functions" / "contracts" / "config-document.schema.json").read_text()
    )

    # Then a rule's document and a segment's conditions are described there
    assert published["$defs"]["RuleSpec"]["properties"]["rules"]["$ref"] == "#/$defs/RuleDocument"
    assert "ip_in" in published["$defs"]["NetworkCondition"]["properties"]["op"]["enum"]
    validator = jsonschema_rs.validator_for(published)

    def imported(rules: dict[str, Any]) -> dict[str, Any]:
        return {
            "environments": [{"key": "staging"}],
            "segments": [
                {"key": "beta", "conditions": {"attribute": "plan", "op": "eq", "value": 1}}
            ],
            "flags": [
                {
                    "name": "adults",
                    "environments": {
                        "staging": {
                            "enabled": True,
                            "rule": {"rules": rules},
                        }
                    },
                }
            ],
        }

    # and a file whose rule document is not of the grammar is refused, a good one accepted
    assert not validator.is_valid(imported({"rules": [{"type": "GEO"}]}))
    assert validator.is_valid(imported({"type": "PERCENTAGE", "value": 30}))


def _readme_documents() -> list[Any]:
    """Each JSON example of the README that is a rule document, a rule, a clause or a
    rule row, as a whole rule document."""
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    found = []
    for index, block in enumerate(README_JSON.findall(readme)):
        example = json.loads(block)
        if "rules" in example and isinstance(example["rules"], dict):  # a rule row
            example = example["rules"]
        if "type" in example and ("serve" in example or example["type"] != "PERCENTAGE"):
            example = {"rules": [example]}
        elif {"all", "any", "not", "attribute"} & set(example):
            example = {
                "rules": [{"type": "CONDITIONS", "conditions": example, "serve": {"variant": "on"}}]
            }
        if "rules" in example or example.get("type") == "PERCENTAGE":
            found.append(pytest.param(example, id=f"json-block-{index}"))
    return found


def test_readme__documents__found() -> None:
    # Then the examples below are the README's documents (not none, by a changed layout)
    assert len(_readme_documents()) >= 6


@pytest.mark.parametrize("example", _readme_documents())
def test_readme__each_document__valid_in_the_served_description(example: dict[str, Any]) -> None:
    # Given the targeting function's description
    validator = _validator(document(router_of("targeting")), RULE_DOCUMENT)

    # Then the README's document is valid in it
    assert validator.is_valid(example), list(validator.iter_errors(example))
