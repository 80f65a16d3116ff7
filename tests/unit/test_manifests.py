"""The Knative manifests as the cluster would read them (seed report §1.3, §1.7, §1.9).

Every overlay is rendered by `kubectl kustomize` and checked by
`functions.commands.manifests`: Knative's schemas with unknown fields caught, the core
objects' schemas strictly, and what the functions need. Each breakage a reviewer once
slipped past the old checks is made again here, and must be caught.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.commands import manifests
from functions.commands.manifests import Document
from functions.core.names import FUNCTIONS
from functions.core.routes import routed_functions


@pytest.fixture(scope="module")
def eks() -> list[Document]:
    return manifests.render(manifests.KNATIVE / "overlays/eks")


def _service(documents: list[Document], name: str) -> Document:
    return next(
        d
        for d in documents
        if d["kind"] == "Service" and d["metadata"]["name"] == name and "template" in d["spec"]
    )


def _container(documents: list[Document], name: str) -> Document:
    container: Document = _service(documents, name)["spec"]["template"]["spec"]["containers"][0]
    return container


def _of_kind(documents: list[Document], kind: str) -> Document:
    return next(d for d in documents if d["kind"] == kind)


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_overlay__rendered_from_a_clean_checkout__no_problem(overlay: str) -> None:
    # Given the overlay as committed (no secrets.env, no cluster)

    # When it is rendered and checked
    documents = manifests.render(manifests.KNATIVE / overlay)

    # Then it renders, and every schema and every check holds
    assert documents
    assert manifests.problems(documents) == []


@pytest.mark.parametrize("relative", sorted(manifests.GENERATED))
def test_generated_file__committed__what_the_routes_table_generates(relative: str) -> None:
    # Given the committed file

    # When it is generated again from functions.core.routes
    text = manifests.generated_text(relative)

    # Then they are the same (regenerate with `python -m functions.commands.manifests write`)
    assert (manifests.KNATIVE / relative).read_text(encoding="utf-8") == text


def test_single_host__every_public_route__reaches_its_function_through_kourier() -> None:
    # Given the single-host layout's route
    route = _of_kind(manifests.render(manifests.KNATIVE / "overlays/single-host"), "HTTPRoute")

    # When each rule's match and rewrite are read
    rules = {
        rule["matches"][0]["path"]["value"]: rule["filters"][0]["urlRewrite"]
        for rule in route["spec"]["rules"]
    }

    # Then the seed's paths go to their functions, /auth and /targeting stripped
    assert rules["/flags"] == {"hostname": "flags.togglemaster.svc.cluster.local"}
    assert rules["/evaluate"]["hostname"] == "evaluation.togglemaster.svc.cluster.local"
    assert rules["/auth"]["path"] == {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
    assert rules["/targeting"]["hostname"] == "targeting.togglemaster.svc.cluster.local"
    assert rules["^/environments/[^/]+/keys(/.*)?$"]["hostname"].startswith("auth.")


def test_services__eks__one_per_function_each_with_its_own_account(eks: list[Document]) -> None:
    # Given / When
    services = [d for d in eks if d["kind"] == "Service" and "template" in d["spec"]]

    # Then
    assert sorted(s["metadata"]["name"] for s in services) == sorted(FUNCTIONS)
    for service in services:
        name = service["metadata"]["name"]
        assert service["spec"]["template"]["spec"]["serviceAccountName"] == name


def test_secrets__eks__master_key_reaches_auth_only_and_no_service_key_anywhere(
    eks: list[Document],
) -> None:
    # Given each function's environment as Kubernetes resolves it
    environments = {
        name: manifests.container_environment(_container(eks, name), eks, name)[0]
        for name in FUNCTIONS
    }

    # Then only auth gets the master key, and no function needs a service key (evaluation
    # reads the keys from the database itself: nothing is pasted by hand)
    assert [name for name, env in environments.items() if "MASTER_KEY" in env] == ["auth"]
    assert all("SERVICE_API_KEY" not in env for env in environments.values())
    assert all("SERVICE_API_KEY" not in manifests.known_variables(name) for name in FUNCTIONS)


def test_visibility__eks__public_exactly_where_the_routes_table_routes(
    eks: list[Document],
) -> None:
    # Given / When
    mapped = sorted(d["spec"]["ref"]["name"] for d in eks if d["kind"] == "DomainMapping")

    # Then a custom domain maps each routed function but analytics, whose / takes the
    # queue's events and so stays cluster-local
    assert mapped == sorted(set(routed_functions()) - {"analytics"})
    assert "analytics" in routed_functions()


Mutation = Callable[[list[Document]], None]
CONTAINER = ("spec", "template", "spec", "containers", 0)


def _drop_env(name: str, variable: str) -> Mutation:
    def mutate(documents: list[Document]) -> None:
        container = _container(documents, name)
        container["env"] = [e for e in container["env"] if e["name"] != variable]

    return mutate


def _set(
    path: tuple[str | int, ...], value: Any, *, kind: str, name: str | None = None
) -> Mutation:
    """Set `path` in the first object of `kind` (named `name`)."""

    def mutate(documents: list[Document]) -> None:
        doc = next(
            d
            for d in documents
            if d["kind"] == kind and name in (None, d["metadata"]["name"])
            if kind != "Service" or "template" in d["spec"]
        )
        node: Any = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _rename_secret_key(documents: list[Document]) -> None:
    container = _container(documents, "flags")
    ref = next(e for e in container["env"] if e["name"] == "REDIS_URL")
    ref["valueFrom"]["secretKeyRef"]["key"] = "REDIS_URI"


def _misspell(documents: list[Document]) -> None:
    spec = _service(documents, "evaluation")["spec"]["template"]["spec"]
    spec["containerConcurency"] = spec.pop("containerConcurrency")


def _misspell_probe(documents: list[Document]) -> None:
    container = _container(documents, "auth")
    container["readinesProbe"] = container.pop("readinessProbe")


def _give_master_key_to_evaluation(documents: list[Document]) -> None:
    _container(documents, "evaluation")["env"].append(
        {"name": "MASTER_KEY", "valueFrom": {"secretKeyRef": _master_key_ref(documents)}}
    )


def _master_key_ref(documents: list[Document]) -> dict[str, str]:
    ref = next(e for e in _container(documents, "auth")["env"] if e["name"] == "MASTER_KEY")
    return dict(ref["valueFrom"]["secretKeyRef"])


def _share_account(documents: list[Document]) -> None:
    _service(documents, "targeting")["spec"]["template"]["spec"]["serviceAccountName"] = "flags"


def _misspell_job_field(documents: list[Document]) -> None:
    spec = _of_kind(documents, "Job")["spec"]["template"]["spec"]
    spec["restartPolcy"] = spec.pop("restartPolicy")


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "removed env var": (_drop_env("flags", "REDIS_URL"), "REDIS_URL is required by flags"),
    "misspelt Knative field": (_misspell, "unknown field spec.template.spec.containerConcurency"),
    "misspelt container field": (_misspell_probe, "readinesProbe"),
    "empty SQS ARN": (
        _set(("spec", "aws", "sqs", "arn"), "", kind="IntegrationSource"),
        "is not an SQS queue ARN",
    ),
    "wrong secret key name": (_rename_secret_key, "lacks: 'REDIS_URI'"),
    "wrong function target": (
        _set((*CONTAINER, "env", 0, "value"), "flags", kind="Service", name="auth"),
        "FUNCTION_TARGET is 'flags', not 'auth'",
    ),
    "source sinking elsewhere": (
        _set(("spec", "sink", "ref", "name"), "evaluation", kind="IntegrationSource"),
        "must sink to the analytics Knative Service",
    ),
    "shared ServiceAccount": (_share_account, "shared by several functions"),
    "secret given where not needed": (_give_master_key_to_evaluation, "MASTER_KEY is set"),
    "misspelt core field": (_misspell_job_field, "'restartPolcy' was unexpected"),
    "wrong type": (
        _set(
            ("spec", "template", "spec", "containerConcurrency"),
            "eight",
            kind="Service",
            name="auth",
        ),
        "containerConcurrency",
    ),
    "hot path scaled to zero": (
        _set(
            ("spec", "template", "metadata", "annotations", "autoscaling.knative.dev/min-scale"),
            "0",
            kind="Service",
            name="evaluation",
        ),
        "never be cold",
    ),
    "slow start-up probing": (
        _set(
            (*CONTAINER, "readinessProbe", "periodSeconds"),
            5,
            kind="Service",
            name="analytics",
        ),
        "turns off Knative's fast probing",
    ),
}


@pytest.mark.parametrize("breakage", sorted(MUTATIONS))
def test_checks__rendered_manifest_broken__the_breakage_is_named(
    eks: list[Document], breakage: str
) -> None:
    # Given the eks overlay, rendered, which passes every check
    documents = copy.deepcopy(eks)
    mutate, expected = MUTATIONS[breakage]

    # When it is broken in one way
    mutate(documents)

    # Then the checks fail, naming it
    found = manifests.problems(documents)
    assert any(expected in problem for problem in found), found


BROKEN_PATCHES = {
    "a misspelt target": (
        {
            "patch": "apiVersion: serving.knative.dev/v1\nkind: Service\n"
            "metadata: {name: evaluaton}\nspec: {template: {spec: {containerConcurrency: 1}}}\n"
        },
        "no resource matches strategic merge patch",
    ),
    "a missing path": (
        {
            "target": {"kind": "Service", "name": "evaluation"},
            "patch": "- op: replace\n  path: /spec/template/spec/containerz/0/image\n  value: x\n",
        },
        "doc is missing path",
    ),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_PATCHES))
def test_render__overlay_patch_broken__kustomize_error_names_it(
    tmp_path: Path, broken: str
) -> None:
    # Given a copy of knative/ whose eks overlay has a broken patch
    shutil.copytree(manifests.KNATIVE, tmp_path / "knative")
    kustomization = tmp_path / "knative/overlays/eks/kustomization.yaml"
    document = yaml.safe_load(kustomization.read_text())
    patch, expected = BROKEN_PATCHES[broken]
    document["patches"] = [patch]
    kustomization.write_text(yaml.safe_dump(document))

    # When it is rendered / Then the render fails with kustomize's message
    with pytest.raises(manifests.ManifestError, match=expected):
        manifests.render(tmp_path / "knative/overlays/eks")


def test_checks__mutations__cover_the_issue_list() -> None:
    # Given the breakages the old checks let through (issue 18): a removed env var, a
    # misspelt field, a broken overlay patch (above), an empty SQS ARN, a wrong secret key
    wanted = {"removed env var", "misspelt Knative field", "empty SQS ARN", "wrong secret key name"}

    # Then each is among the mutations, and there are at least eight in all
    assert wanted <= set(MUTATIONS)
    assert len(MUTATIONS) + 1 >= 8
