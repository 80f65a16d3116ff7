"""Configuration as files: export, import (plan and apply), the CLI (issue:
environments, "configuration as files")."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask.testing import FlaskClient

from functions.commands.cli import main as cli
from functions.core import engine
from functions.core.mappers.evaluation import compiled_flag
from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]
USERS = [f"user-{i}" for i in range(1000)]


def _call(method: str, url: str, key: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def populated(stack: DevStack, api_key: str) -> list[str]:
    """Three flags with different staging states and rules."""
    flags, targeting = stack.url_of("flags"), stack.url_of("targeting")
    names = [f"cfg_{tag}_{uuid.uuid4().hex[:6]}" for tag in ("a", "b", "c")]
    for name, enabled, share in zip(names, (True, True, False), (30, None, 80), strict=True):
        made = _call(
            "POST",
            f"{flags}/flags",
            api_key,
            params={"environment": "staging"},
            json={"name": name, "description": f"about {name}", "is_enabled": enabled},
        )
        assert made.status_code == 201
        if share is not None:
            rule = {"flag_name": name, "rules": {"type": "PERCENTAGE", "value": share}}
            assert (
                _call(
                    "POST",
                    f"{targeting}/rules",
                    api_key,
                    params={"environment": "staging"},
                    json=rule,
                ).status_code
                == 201
            )
    return names


def _decide(flag_row: dict[str, Any], rule_row: dict[str, Any] | None, flag: str) -> list[object]:
    config = compiled_flag(name=flag, flag=flag_row, rule=rule_row)
    return [
        engine.evaluate(config.definition, config.enabled, config.ruleset, {"user_id": u}).value
        for u in USERS
    ]


def test_export_import__populated_staging_into_empty_database__same_decisions_and_idempotent(
    stack: DevStack, api_key: str, populated: list[str], empty_flags: FlaskClient
) -> None:
    # Given the staging export of the running stack, as YAML
    exported = _call(
        "GET",
        f"{stack.url_of('flags')}/export",
        api_key,
        params={"environment": "staging"},
        headers={"Accept": "application/yaml"},
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("application/yaml")
    document = yaml.safe_load(exported.text)
    assert [e["key"] for e in document["environments"]] == ["staging"]
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/yaml"}

    # When it is imported into an empty database, first as a dry run
    dry = empty_flags.post("/import?dry_run=true", data=exported.text, headers=headers)
    first = empty_flags.post("/import", data=exported.text, headers=headers)
    second = empty_flags.post("/import", data=exported.text, headers=headers)

    # Then the dry run planned what the import did, and the second import changed nothing
    assert dry.status_code == 200, dry.get_data(as_text=True)
    assert dry.get_json()["plan"] == first.get_json()["plan"]
    assert first.get_json()["applied"] is True
    assert first.get_json()["summary"]["created"] >= 2 * len(populated)
    assert second.get_json()["applied"] is False
    assert set(second.get_json()["summary"]) == {"created", "changed", "deleted", "unchanged"}
    assert second.get_json()["summary"]["unchanged"] == len(second.get_json()["plan"])

    # And the copy decides like the stack for 1 000 users, flag by flag
    reexported = empty_flags.get("/export?environment=staging", headers=headers).get_json()
    mine = {f["name"]: f for f in document["flags"]}
    theirs = {f["name"]: f for f in reexported["flags"]}
    stack.settle()
    for flag in populated:
        assert theirs[flag] == mine[flag]
        state = theirs[flag]["environments"]["staging"]
        flag_row = {"is_enabled": state["enabled"]}
        rule = state["rule"]
        rule_row = None if rule is None else {"is_enabled": rule["enabled"], "rules": rule["rules"]}
        expected = [
            _call(
                "GET",
                f"{stack.url_of('evaluation')}/evaluate",
                api_key,
                params={"user_id": u, "flag_name": flag, "environment": "staging"},
            ).json()["result"]
            for u in USERS
        ]
        assert [v is True for v in _decide(flag_row, rule_row, flag)] == expected


def test_import__one_bad_field__422_naming_path_and_nothing_applied(
    api_key: str, empty_flags: FlaskClient
) -> None:
    # Given a document whose second flag has a percentage out of range
    document = {
        "version": 1,
        "environments": [{"key": "staging"}],
        "flags": [
            {"name": "good_one", "environments": {"staging": {"enabled": True}}},
            {
                "name": "bad_one",
                "environments": {
                    "staging": {
                        "enabled": True,
                        "rule": {"rules": {"type": "PERCENTAGE", "value": 130}},
                    }
                },
            },
        ],
    }
    headers = {"Authorization": f"Bearer {api_key}"}
    # When it is imported
    answer = empty_flags.post("/import", json=document, headers=headers)
    # Then it is refused naming the field's path, and the good flag was not created either
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "$.flags[1].environments.staging.rule.rules.value"
    assert empty_flags.get("/flags/good_one", headers=headers).status_code == 404


def test_import__shared_fields_left_out__kept_and_explicit_empty_clears(
    api_key: str, empty_flags: FlaskClient
) -> None:
    # Given a flag imported with a description, tags and an owner
    headers = {"Authorization": f"Bearer {api_key}"}
    described = {"description": "New checkout", "tags": ["checkout"], "owner": "payments"}
    flag = {"name": "kept_fields", "environments": {"staging": {"enabled": True}}}
    document = {"version": 1, "environments": [{"key": "staging"}], "flags": [flag]}
    first = empty_flags.post(
        "/import", json={**document, "flags": [{**flag, **described}]}, headers=headers
    )
    assert first.status_code == 200, first.get_data(as_text=True)

    # When a document that leaves those fields out is planned, then applied
    dry = empty_flags.post("/import?dry_run=true", json=document, headers=headers)
    applied = empty_flags.post("/import", json=document, headers=headers)

    # Then the plan changes nothing, and the fields are as they were
    assert dry.get_json()["plan"] == applied.get_json()["plan"]
    assert [item["action"] for item in dry.get_json()["plan"]] == ["unchanged"]
    assert applied.get_json()["applied"] is False
    stored = empty_flags.get("/flags/kept_fields?environment=staging", headers=headers).get_json()
    assert {name: stored[name] for name in described} == described

    # When a document says them empty
    cleared: dict[str, Any] = {"description": "", "tags": [], "owner": None}
    dry = empty_flags.post(
        "/import?dry_run=true", json={**document, "flags": [{**flag, **cleared}]}, headers=headers
    )
    applied = empty_flags.post(
        "/import", json={**document, "flags": [{**flag, **cleared}]}, headers=headers
    )

    # Then the plan shows each cleared, and the import clears them
    (change,) = [item for item in dry.get_json()["plan"] if "environment" not in item]
    assert change["changes"] == {
        "description": {"from": "New checkout", "to": ""},
        "tags": {"from": ["checkout"], "to": []},
        "owner": {"from": "payments", "to": None},
    }
    assert applied.get_json()["applied"] is True
    stored = empty_flags.get("/flags/kept_fields?environment=staging", headers=headers).get_json()
    assert {name: stored[name] for name in cleared} == cleared


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"version": 2, "environments": [{"key": "staging"}]}, "$.version"),
        ({"version": 1, "environments": []}, "$.environments"),
        ({"version": 1, "environments": [{"key": "Bad Key"}]}, "$.environments[0].key"),
        (
            {
                "version": 1,
                "environments": [{"key": "staging"}],
                "flags": [{"name": "x", "environments": {"qa": {"enabled": True}}}],
            },
            "$.flags[0].environments.qa",
        ),
        (
            {
                "version": 1,
                "environments": [{"key": "staging"}],
                "flags": [{"name": "x", "environments": {"staging": {"enabled": "yes"}}}],
            },
            "$.flags[0].environments.staging.enabled",
        ),
        (
            {
                "version": 1,
                "environments": [{"key": "staging"}],
                "flags": [{"name": "x"}, {"name": "x"}],
            },
            "$.flags[1].name",
        ),
    ],
)
def test_import__invalid_document__422_with_path(
    api_key: str, empty_flags: FlaskClient, document: dict[str, Any], path: str
) -> None:
    # Given / When
    answer = empty_flags.post(
        "/import", json=document, headers={"Authorization": f"Bearer {api_key}"}
    )
    # Then
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == path


def test_cli_apply__dry_run_then_apply__prints_plan_and_applies(
    stack: DevStack, api_key: str, tmp_path: Path
) -> None:
    # Given a file that turns a new flag on in development
    flag = f"cli_{uuid.uuid4().hex[:6]}"
    path = tmp_path / "flags.yaml"
    export = _call(
        "GET", f"{stack.url_of('flags')}/export", api_key, params={"environment": "development"}
    ).json()
    export["flags"].append(
        {
            "name": flag,
            "environments": {
                "development": {
                    "enabled": True,
                    "rule": {"rules": {"type": "PERCENTAGE", "value": 10}},
                }
            },
        }
    )
    path.write_text(yaml.safe_dump(export))
    base = ["apply", str(path), "--url", stack.url_of("flags"), "--key", api_key]
    # When it is applied as a dry run, then for real
    dry_out, out = io.StringIO(), io.StringIO()
    dry_code = cli([*base, "--dry-run"], out=dry_out)
    code = cli(base, out=out)
    # Then the dry run printed the plan as a diff and the apply made it true
    assert dry_code == 0 and code == 0
    assert f"+ flag {flag} [development]: created" in dry_out.getvalue()
    assert "(dry run)" in dry_out.getvalue() and "(applied)" in out.getvalue()
    state = _call(
        "GET",
        f"{stack.url_of('flags')}/flags/{flag}",
        api_key,
        params={"environment": "development"},
    ).json()
    assert state["is_enabled"] is True


def test_cli_apply__invalid_file__exit_1_naming_path(
    stack: DevStack, api_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a JSON file with a bad field
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "environments": [{"key": "staging"}],
                "flags": [{"name": "x", "environments": {"staging": {"enabled": 1}}}],
            }
        )
    )
    # When it is applied
    code = cli(["apply", str(path), "--url", stack.url_of("flags"), "--key", api_key])
    # Then the command fails and says where
    assert code == 1
    assert "$.flags[0].environments.staging.enabled" in capsys.readouterr().err
