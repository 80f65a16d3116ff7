"""docker-compose.yml is what `make dev` runs, in containers: valid against the Compose
specification (the `compose-spec` parser; where a Docker client with Compose exists,
`docker compose config` accepts it too), startable on a fresh checkout, migrations and the
walk-through's key included, every port on 127.0.0.1, each secret only where it is read."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from functions.commands.manifests import required_variables
from functions.core.names import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
INTERPOLATION = re.compile(r"\$\{([A-Z_]+)(:?[-?])?([^}]*)\}")


def _interpolated(text: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`, as it substitutes them
    (`$$` is a literal `$`); a required variable missing fails like Compose does."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match[1], match[2] or "", match[3]
        value = env.get(name, "")
        if "?" in operator and not value:
            raise ValueError(f"required variable {name} is missing: {argument}")
        return value or (argument if "-" in operator else "")

    return INTERPOLATION.sub(substitute, text.replace("$$", "\0")).replace("\0", "$")


def _compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(_interpolated(TEXT, env or {}))
    return document


def _secret_needs() -> dict[str, tuple[str, ...]]:
    """The `needs` table of the `secrets` service's script: which secrets each service's
    folder holds."""
    script = _compose()["services"]["secrets"]["command"][-1]
    for node in ast.walk(ast.parse(script)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "needs":
            needs: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
            return needs
    raise AssertionError("no needs table in the secrets service")


def test_compose__fresh_checkout_no_variables__valid_against_the_specification() -> None:
    # Given no variable set in the environment (a fresh checkout)
    document = _compose({})

    # When the Compose specification's parser reads it (anchors and merges resolved)
    parsed = PyCompose.from_json(json.dumps(document))

    # Then it is valid, with every service make dev runs, and nothing is required
    assert set(FUNCTIONS) <= set(parsed.service_names())
    assert {"postgres", "redis", "moto", "setup", "forwarder", "gateway"} <= set(
        parsed.service_names()
    )
    assert ":?" not in TEXT


def test_compose__misspelt_key__refused_by_the_specification() -> None:
    # Given the file with one service key misspelt
    document = _compose()
    document["services"]["auth"]["restrat"] = document["services"]["auth"].pop("restart")

    # When / Then the parser names it
    with pytest.raises(ValueError, match="restrat"):
        PyCompose.from_json(json.dumps(document))


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode
    != 0,
    reason="no Docker client with Compose here",
)
def test_compose__docker_compose_config__accepts_it() -> None:
    # Given / When
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )

    # Then
    assert result.returncode == 0, result.stderr


def test_compose__published_ports__loopback_only() -> None:
    # Given every published port
    ports = [
        (name, str(port))
        for name, service in _compose()["services"].items()
        for port in service.get("ports", [])
    ]

    # Then each listens on 127.0.0.1 only
    assert ports
    assert [p for p in ports if not p[1].startswith("127.0.0.1:")] == []


def test_compose__secrets__each_only_where_it_is_read() -> None:
    # Given which secrets each service's folder holds, and which folder it mounts
    needs = _secret_needs()
    services = _compose()["services"]
    mounted = {
        name: [
            v["volume"]["subpath"]
            for v in service.get("volumes", [])
            if isinstance(v, dict) and v.get("source") == "secrets"
        ]
        for name, service in services.items()
    }

    # Then only auth has the master key, only evaluation and analytics the events'
    # signing secret, each function mounts its own folder only, and no service is handed
    # a secret in its environment
    assert [s for s, names in needs.items() if "MASTER_KEY" in names] == ["auth"]
    assert sorted(s for s, names in needs.items() if "EVENTS_SIGNING_SECRET" in names) == [
        "analytics",
        "evaluation",
    ]
    for function in FUNCTIONS:
        assert mounted[function] == [function]
    secrets = {"MASTER_KEY", "GRANT_SECRET", "EVENTS_SIGNING_SECRET", "REDIS_PASSWORD"}
    for name, service in services.items():
        if name != "secrets":
            assert not secrets & set(service.get("environment") or {}), name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_compose__function__every_variable_it_requires_is_given(function: str) -> None:
    # Given the function's environment and the secrets of its folder
    service = _compose()["services"][function]
    given = set(service["environment"]) | set(_secret_needs()[function])

    # Then everything its settings require is there (REDIS_PASSWORD joins REDIS_URL)
    assert required_variables(function) - given == set()
    assert service["environment"]["FUNCTION_TARGET"] == function
    assert "WORKERS" in service["environment"]


def test_compose__start_up__migrations_tables_and_the_walkthrough_key_before_functions() -> None:
    # Given the services and what they wait for
    services = _compose()["services"]
    setup = services["setup"]["command"][-1]

    # Then setup migrates, creates the queue and the tables, and mints (or keeps) the
    # walk-through's key, as make dev does; every function waits for it to complete, and
    # every service waited for exists; every host path mounted exists in the checkout
    assert "python -m functions.commands.migrate" in setup
    assert "python -m functions.devstack.aws" in setup
    assert "python -m functions.commands.analytics_tables" in setup
    assert "keep_or_provision_key" in setup and "dev-walkthrough" in setup
    for function in FUNCTIONS:
        assert services[function]["depends_on"]["setup"] == {
            "condition": "service_completed_successfully"
        }
    for name, service in services.items():
        depends = service.get("depends_on") or []
        assert set(depends) <= set(services), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else ""
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
