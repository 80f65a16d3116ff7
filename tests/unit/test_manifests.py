"""The Knative manifests hold what the design promises (seed report §1.7, §1.9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.core.names import FUNCTIONS

BASE = Path(__file__).resolve().parents[2] / "knative" / "base"


def _documents() -> list[dict[str, Any]]:
    listed = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
    return [doc for name in listed for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]


def _services() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _documents() if d["kind"] == "Service"}


def test_services__base__one_knative_service_per_function_target() -> None:
    # Given / When
    services = _services()
    # Then every target has its Service, picking itself by FUNCTION_TARGET
    assert set(services) == set(FUNCTIONS)
    for name, service in services.items():
        env = service["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": "FUNCTION_TARGET", "value": name} in env


@pytest.mark.parametrize("name", FUNCTIONS)
def test_service__autoscaling_and_resources__sized_and_on_the_revision_template(name: str) -> None:
    # Given the function's Service
    service = _services()[name]
    template = service["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    # Then autoscaling lives on the revision template only, admin functions scale to zero,
    # the hot path never does, and every container has requests and a memory limit
    assert "annotations" not in service["metadata"]
    visibility = service["metadata"].get("labels", {}).get("networking.knative.dev/visibility")
    assert visibility == ("cluster-local" if name == "analytics" else None)
    assert annotations["autoscaling.knative.dev/metric"] == "concurrency"
    expected_min = "1" if name == "evaluation" else "0"
    assert annotations["autoscaling.knative.dev/min-scale"] == expected_min
    resources = template["spec"]["containers"][0]["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    assert template["spec"]["serviceAccountName"] == "togglemaster"
    probes = template["spec"]["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/ready"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_service__server_workers__set_explicitly(name: str) -> None:
    # Given the function's container and the ConfigMap it reads
    container = _services()[name]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    config_maps = {ref["configMapRef"]["name"] for ref in container.get("envFrom", [])}
    shared = {
        key: value
        for d in _documents()
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] in config_maps
        for key, value in d["data"].items()
    }
    # When WORKERS is resolved as Kubernetes does (the container's own env wins)
    workers = env.get("WORKERS", shared.get("WORKERS"))
    # Then it is set, never left to togglemaster-serve's default (the node's cores), and
    # nothing is left of the old server's settings
    assert workers is not None and str(workers).isdigit() and int(workers) >= 1
    assert "THREADS" not in env
    assert "THREADS" not in shared


def test_sqs_source__base__irsa_service_account_and_analytics_sink() -> None:
    # Given / When
    source = next(d for d in _documents() if d["kind"] == "IntegrationSource")
    # Then no static keys: IRSA through the service account, delivering to analytics
    assert source["spec"]["aws"]["auth"] == {"serviceAccountName": "togglemaster"}
    assert source["spec"]["sink"]["ref"]["name"] == "analytics"


def test_migrate_job__base__runs_the_migration_command() -> None:
    # Given / When
    job = next(d for d in _documents() if d["kind"] == "Job")
    # Then
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "-m",
        "functions.commands.migrate",
    ]
