"""The Knative manifests, rendered and checked as `make test` and `make deploy` need them.

`render` runs `kubectl kustomize` on an overlay. `problems` reads the rendered objects the
way the cluster would and says, one line each, what would break there:

- schemas: Knative's objects through the `cloudcoil` Knative models (1.17 on Python 3.11)
  with unknown fields caught by comparing a model's dump with the raw document, and the
  fields newer than 1.17 checked explicitly (DESIGN.md §6); every other object with
  `kubernetes-validate`, strictly (an unknown field is an error);
- semantics: each function has one Service running its target under its own
  ServiceAccount; every variable its settings require is provided and none it does not
  read; every Secret, ConfigMap and key referenced exists; the SQS source reads a real
  queue ARN and sinks to analytics; what `functions.core.routes` routes is public and
  nothing else is; scaling, probes, resources and security context hold what
  knative/base promises.

`problems(..., release=...)` adds what a deploy needs on top: the release's immutable image
tag, no example value left (account, domain, Secret), an IRSA role on each account that
has AWS rights.

It also generates, from `functions.core.routes`, the DomainMappings of the eks overlay and
the single-host layout (`python -m functions.commands.manifests write`); a test checks the
committed files are what it generates.
"""

from __future__ import annotations

import argparse
import base64
import copy
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from functions.core.routes import ROUTES, routed_functions
from functions.core.settings import (
    AnalyticsSettings,
    AuthSettings,
    EvaluationSettings,
    FlagsSettings,
    Settings,
    TargetingSettings,
)

Document = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
KNATIVE = ROOT / "knative"
OVERLAYS = ("base", "overlays/eks", "overlays/single-host")
NAMESPACE = "togglemaster"
KUBERNETES_VERSION = "1.32"
EXAMPLE_ACCOUNT = "000000000000"
EXAMPLE_DOMAIN = "togglemaster.example.com"
EXAMPLE_VALUE = "replace-me"
KOURIER_INTERNAL = ("kourier-system", "kourier-internal")

SETTINGS: Mapping[str, type[Settings]] = {
    "auth": AuthSettings,
    "flags": FlagsSettings,
    "targeting": TargetingSettings,
    "evaluation": EvaluationSettings,
    "analytics": AnalyticsSettings,
}
"""What each function reads at start-up (functions.core.settings)."""
SERVER_VARIABLES = frozenset({"FUNCTION_TARGET", "WORKERS", "PORT", "HOST", "FUNCTION_SOURCE"})
"""What the server command reads (functions/serve.py), for every function."""
INTAKE_FUNCTIONS = frozenset({"analytics"})
"""Functions whose `/` takes what only the cluster may send (analytics: the SQS source's
event packs): cluster-local, without a custom domain of their own; their public routes
(`/analytics/...`) reach them only through the single-host layout, path by path."""
AWS_ROLES = ("evaluation", "analytics", "evaluation-events")
"""The accounts that get an IRSA role from the CloudFormation stack; the others none."""
SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$")
RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
}


class ManifestError(Exception):
    """An overlay that does not render: kustomize's own message."""


def render(overlay: Path) -> list[Document]:
    """`kubectl kustomize overlay`, parsed."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise ManifestError(f"{overlay}: kustomize failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def dump(documents: Iterable[Document]) -> str:
    return yaml.safe_dump_all(list(documents), sort_keys=False)


# -- schemas -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _KnativeKind:
    model: Callable[[], type[BaseModel]]
    newer_fields: tuple[tuple[str, ...], ...] = ()
    """Fields Knative added after the models' version: taken out before the comparison,
    and checked by `_newer_field_problems`."""


def _serving_service() -> type[BaseModel]:
    from cloudcoil.models.knative_serving.serving.v1 import Service

    return Service


def _domain_mapping() -> type[BaseModel]:
    from cloudcoil.models.knative_serving.serving.v1beta1 import DomainMapping

    return DomainMapping


def _integration_source() -> type[BaseModel]:
    import warnings

    with warnings.catch_warnings():
        # The package's messaging models shadow a base attribute; nothing this reads.
        warnings.simplefilter("ignore", UserWarning)
        from cloudcoil.models.knative_eventing.sources.v1alpha1 import IntegrationSource

    return IntegrationSource


KNATIVE_KINDS: Mapping[tuple[str, str], _KnativeKind] = {
    ("serving.knative.dev/v1", "Service"): _KnativeKind(_serving_service),
    ("serving.knative.dev/v1beta1", "DomainMapping"): _KnativeKind(_domain_mapping),
    ("sources.knative.dev/v1alpha1", "IntegrationSource"): _KnativeKind(
        _integration_source,
        # Eventing 1.20: IRSA through a ServiceAccount instead of a Secret of static keys.
        newer_fields=(("spec", "aws", "auth", "serviceAccountName"),),
    ),
}
GATEWAY_KINDS = frozenset(
    {
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
    }
)
"""Checked by `_single_host_problems` against `functions.core.routes`: the Gateway API's
CRDs are not among the schemas this checks with."""


def _name(doc: Document) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def _unknown_paths(raw: Any, dumped: Any, path: str) -> list[str]:
    """Where `raw` holds something the model's dump does not: a field the model dropped."""
    if isinstance(raw, dict):
        if not isinstance(dumped, dict):
            return []
        found = []
        for key, value in raw.items():
            if key not in dumped:
                found.append(f"{path}.{key}")
            else:
                found.extend(_unknown_paths(value, dumped[key], f"{path}.{key}"))
        return found
    if isinstance(raw, list) and isinstance(dumped, list):
        return [
            found
            for index, (item, out) in enumerate(zip(raw, dumped, strict=False))
            for found in _unknown_paths(item, out, f"{path}[{index}]")
        ]
    return []


def _pop(doc: Document, path: tuple[str, ...]) -> Any:
    parent: Any = doc
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        return parent.pop(path[-1], None)
    return None


def _knative_problems(doc: Document, kind: _KnativeKind) -> list[str]:
    from pydantic import ValidationError

    raw = copy.deepcopy(doc)
    for path in kind.newer_fields:
        _pop(raw, path)
    try:
        model = kind.model().model_validate(raw)
    except ValidationError as exc:
        return [
            f"{_name(doc)}: {'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [
        f"{_name(doc)}: unknown field {path.lstrip('.')}"
        for path in _unknown_paths(raw, dumped, "")
    ]


def _core_problems(doc: Document) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        return [f"{_name(doc)}: {where + ': ' if where else ''}{exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{_name(doc)}: no schema for {doc.get('apiVersion')} {doc.get('kind')}"]
    return []


def schema_problems(documents: Sequence[Document]) -> list[str]:
    problems = []
    for doc in documents:
        key = (doc.get("apiVersion", ""), doc.get("kind", ""))
        if key in KNATIVE_KINDS:
            problems += _knative_problems(doc, KNATIVE_KINDS[key])
        elif key not in GATEWAY_KINDS:
            problems += _core_problems(doc)
    return problems


# -- semantics ---------------------------------------------------------------------------


def _of_kind(documents: Sequence[Document], kind: str) -> dict[str, Document]:
    return {d["metadata"]["name"]: d for d in documents if d.get("kind") == kind}


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _container(service: Document) -> Document:
    containers = _get(service, "spec", "template", "spec", "containers") or [{}]
    first: Document = containers[0]
    return first


def required_variables(function: str) -> frozenset[str]:
    """The variables `function` cannot start without."""
    fields = SETTINGS[function].model_fields
    return frozenset(f.alias or name for name, f in fields.items() if f.is_required())


def known_variables(function: str) -> frozenset[str]:
    fields = SETTINGS[function].model_fields
    return frozenset(f.alias or name for name, f in fields.items()) | SERVER_VARIABLES


def _data(doc: Document) -> dict[str, Any]:
    data: dict[str, Any] = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
    return data


def container_environment(
    container: Document, documents: Sequence[Document], owner: str
) -> tuple[dict[str, str], list[str]]:
    """What the container's process sees (name → where it comes from), as Kubernetes
    resolves it, and each reference to a missing object or key."""
    config_maps, secrets = _of_kind(documents, "ConfigMap"), _of_kind(documents, "Secret")
    env: dict[str, str] = {}
    problems = []
    for ref in container.get("envFrom") or []:
        for field, objects in (("configMapRef", config_maps), ("secretRef", secrets)):
            if field in ref:
                name = ref[field].get("name")
                if name not in objects:
                    problems.append(f"{owner}: envFrom names a missing {field[:-3]} {name!r}")
                    continue
                env.update({key: f"{name}/{key}" for key in _data(objects[name])})
    for item in container.get("env") or []:
        source = item.get("valueFrom")
        if source is None:
            env[item["name"]] = "value"
            continue
        for field, objects in (("configMapKeyRef", config_maps), ("secretKeyRef", secrets)):
            ref = source.get(field)
            if ref is None:
                continue
            name, key = ref.get("name"), ref.get("key")
            if name not in objects:
                problems.append(f"{owner}: {item['name']} names a missing {field[:-6]} {name!r}")
            elif key not in _data(objects[name]):
                problems.append(f"{owner}: {item['name']} names a key {name!r} lacks: {key!r}")
            else:
                env[item["name"]] = f"{name}/{key}"
    return env, problems


def _function_problems(
    function: str, service: Document, documents: Sequence[Document]
) -> list[str]:
    owner = f"Service/{function}"
    problems = []
    template = _get(service, "spec", "template") or {}
    container = _container(service)
    env, missing = container_environment(container, documents, owner)
    problems += missing
    explicit = {item.get("name") for item in container.get("env") or []}
    target = next(
        (i.get("value") for i in container.get("env") or [] if i.get("name") == "FUNCTION_TARGET"),
        None,
    )
    if target != function:
        problems.append(f"{owner}: FUNCTION_TARGET is {target!r}, not {function!r}")
    for variable in sorted(required_variables(function) - set(env)):
        problems.append(f"{owner}: {variable} is required by {function} and not provided")
    for variable in sorted(explicit - known_variables(function)):
        problems.append(f"{owner}: {variable} is set but {function} does not read it")
    secrets = set(_of_kind(documents, "Secret"))
    for variable, origin in sorted(env.items()):
        if origin.split("/")[0] in secrets and variable not in known_variables(function):
            problems.append(f"{owner}: gets the secret {variable}, which it does not need")
    if "WORKERS" not in env:
        problems.append(f"{owner}: WORKERS is not set (the server would use the node's cores)")
    account = _get(template, "spec", "serviceAccountName")
    if account != function:
        problems.append(f"{owner}: runs as ServiceAccount {account!r}, not its own {function!r}")
    if account not in _of_kind(documents, "ServiceAccount"):
        problems.append(f"{owner}: its ServiceAccount {account!r} does not exist")
    problems += _scaling_problems(function, service)
    problems += _container_problems(owner, container)
    visibility = _get(service, "metadata", "labels", "networking.knative.dev/visibility")
    public = function in domain_functions()
    if public and visibility is not None:
        problems.append(f"{owner}: routed publicly by functions.core.routes, yet {visibility}")
    if not public and visibility != "cluster-local":
        problems.append(f"{owner}: must be cluster-local (no custom domain may reach its /)")
    return problems


def _scaling_problems(function: str, service: Document) -> list[str]:
    owner = f"Service/{function}"
    problems = []
    if any(k.startswith("autoscaling.") for k in _get(service, "metadata", "annotations") or {}):
        problems.append(f"{owner}: autoscaling annotations belong on spec.template.metadata")
    annotations = _get(service, "spec", "template", "metadata", "annotations") or {}
    target = annotations.get("autoscaling.knative.dev/target")
    if not (isinstance(target, str) and target.isdigit() and int(target) >= 1):
        problems.append(f"{owner}: no concurrency target")
    limit = _get(service, "spec", "template", "spec", "containerConcurrency")
    if not isinstance(limit, int):
        problems.append(f"{owner}: containerConcurrency is not set to a number")
    elif limit and isinstance(target, str) and target.isdigit() and int(target) > limit:
        problems.append(f"{owner}: target {target} above containerConcurrency {limit}")
    low = str(annotations.get("autoscaling.knative.dev/min-scale", "0"))
    if function == "evaluation" and not (low.isdigit() and int(low) >= 1):
        problems.append(f"{owner}: the hot path must never be cold (min-scale >= 1)")
    if function != "evaluation" and low != "0":
        problems.append(f"{owner}: must scale to zero (min-scale 0)")
    return problems


def _container_problems(owner: str, container: Document) -> list[str]:
    problems = []
    resources = container.get("resources") or {}
    if not (_get(resources, "requests", "cpu") and _get(resources, "requests", "memory")):
        problems.append(f"{owner}: no CPU and memory requests")
    if not _get(resources, "limits", "memory"):
        problems.append(f"{owner}: no memory limit")
    readiness = container.get("readinessProbe") or {}
    if not _get(readiness, "httpGet", "path"):
        problems.append(f"{owner}: no HTTP readiness probe")
    if readiness.get("periodSeconds"):
        problems.append(f"{owner}: readiness periodSeconds turns off Knative's fast probing")
    security = container.get("securityContext") or {}
    for field, wanted in RESTRICTED_CONTAINER.items():
        if security.get(field) is not wanted:
            problems.append(f"{owner}: securityContext.{field} must be {wanted}")
    if "ALL" not in (_get(security, "capabilities", "drop") or []):
        problems.append(f"{owner}: securityContext must drop ALL capabilities")
    return problems


def _source_problems(documents: Sequence[Document]) -> list[str]:
    sources = _of_kind(documents, "IntegrationSource")
    if len(sources) != 1:
        return [f"expected one IntegrationSource, found {len(sources)}"]
    (name, source), problems = next(iter(sources.items())), []
    owner = f"IntegrationSource/{name}"
    sqs = _get(source, "spec", "aws", "sqs") or {}
    if not SQS_ARN.match(str(sqs.get("arn") or "")):
        problems.append(f"{owner}: spec.aws.sqs.arn {sqs.get('arn')!r} is not an SQS queue ARN")
    elif sqs.get("region") != sqs["arn"].split(":")[3]:
        problems.append(f"{owner}: spec.aws.sqs.region is not the queue's region")
    if int(sqs.get("maxMessagesPerPoll") or 1) < 10 or int(sqs.get("waitTimeSeconds") or 0) < 1:
        problems.append(f"{owner}: polls one message at a time or without long polling")
    account = _get(source, "spec", "aws", "auth", "serviceAccountName")
    if not isinstance(account, str) or account not in _of_kind(documents, "ServiceAccount"):
        problems.append(f"{owner}: spec.aws.auth.serviceAccountName names no ServiceAccount")
    elif account in SETTINGS:
        problems.append(f"{owner}: must not share the ServiceAccount of function {account}")
    sink = _get(source, "spec", "sink", "ref") or {}
    if (sink.get("kind"), sink.get("name")) != ("Service", "analytics") or sink.get(
        "apiVersion"
    ) != "serving.knative.dev/v1":
        problems.append(f"{owner}: must sink to the analytics Knative Service, not {sink}")
    return problems


def _job_problems(documents: Sequence[Document]) -> list[str]:
    jobs = [d for d in documents if d.get("kind") == "Job"]
    migrations = [
        job
        for job in jobs
        if (_get(job, "spec", "template", "spec", "containers") or [{}])[0].get("command")
        == ["python", "-m", "functions.commands.migrate"]
    ]
    if len(migrations) != 1:
        return [f"expected one migration Job, found {len(migrations)}"]
    job = migrations[0]
    container = job["spec"]["template"]["spec"]["containers"][0]
    env, problems = container_environment(container, documents, _name(job))
    for variable in ("AUTH_DATABASE_URL", "CONFIG_DATABASE_URL"):
        if variable not in env:
            problems.append(f"{_name(job)}: {variable} is not provided")
    return problems


def _domain_problems(documents: Sequence[Document]) -> list[str]:
    mappings = _of_kind(documents, "DomainMapping")
    if not mappings:
        return []
    pointed = sorted(_get(m, "spec", "ref", "name") for m in mappings.values())
    if pointed != sorted(domain_functions()):
        return [f"DomainMappings point at {pointed}, not {sorted(domain_functions())}"]
    return []


def semantic_problems(documents: Sequence[Document]) -> list[str]:
    services = [
        d
        for d in documents
        if d.get("kind") == "Service" and d.get("apiVersion") == "serving.knative.dev/v1"
    ]
    problems = []
    names = [s["metadata"]["name"] for s in services]
    for function in SETTINGS:
        if names.count(function) != 1:
            problems.append(
                f"expected one Knative Service {function!r}, found {names.count(function)}"
            )
    for service in services:
        name = service["metadata"]["name"]
        if name in SETTINGS:
            problems += _function_problems(name, service, documents)
    accounts = [_get(s, "spec", "template", "spec", "serviceAccountName") for s in services]
    for account in sorted({a for a in accounts if accounts.count(a) > 1}):
        problems.append(f"ServiceAccount {account!r} is shared by several functions")
    problems += _source_problems(documents)
    problems += _job_problems(documents)
    problems += _domain_problems(documents)
    problems += _single_host_problems(documents)
    return problems


# -- a release ---------------------------------------------------------------------------


def release_problems(documents: Sequence[Document], *, image: str) -> list[str]:
    """What must hold before a render is applied: every container on `image` (an immutable
    tag), nothing left of the examples, an IRSA role on each account with AWS rights."""
    problems = []
    for doc in documents:
        spec = _get(doc, "spec", "template", "spec") or {}
        for container in spec.get("containers") or []:
            if container.get("image") != image:
                problems.append(f"{_name(doc)}: image {container.get('image')!r}, not {image!r}")
        text = yaml.safe_dump(doc)
        if EXAMPLE_ACCOUNT in text:
            problems.append(f"{_name(doc)}: still holds the example account {EXAMPLE_ACCOUNT}")
        if EXAMPLE_DOMAIN in text:
            problems.append(f"{_name(doc)}: still holds the example domain {EXAMPLE_DOMAIN}")
    for name, secret in _of_kind(documents, "Secret").items():
        for key, value in (secret.get("data") or {}).items():
            if EXAMPLE_VALUE in base64.b64decode(value).decode(errors="replace"):
                problems.append(f"Secret/{name}: {key} is still the example's placeholder")
    accounts = _of_kind(documents, "ServiceAccount")
    for account in AWS_ROLES:
        role = _get(accounts.get(account), "metadata", "annotations", "eks.amazonaws.com/role-arn")
        if not (isinstance(role, str) and role.startswith("arn:aws")):
            problems.append(f"ServiceAccount/{account}: no IRSA role (eks.amazonaws.com/role-arn)")
    for name, other in accounts.items():
        role = _get(other, "metadata", "annotations", "eks.amazonaws.com/role-arn")
        if name not in AWS_ROLES and role:
            problems.append(f"ServiceAccount/{name}: has an AWS role but needs no AWS rights")
    return problems


def problems(documents: Sequence[Document], *, image: str | None = None) -> list[str]:
    """Everything wrong with a render: schemas, then meaning, then (given the release's
    image) what a deploy needs."""
    found = schema_problems(documents) + semantic_problems(documents)
    if image is not None:
        found += release_problems(documents, image=image)
    return found


# -- what is generated from functions.core.routes ----------------------------------------


def function_host(function: str) -> str:
    """A function's host inside the cluster: what Kourier routes by."""
    return f"{function}.{NAMESPACE}.svc.cluster.local"


def domain_functions() -> tuple[str, ...]:
    """The functions with a custom domain of their own: those a public route names, but
    not those whose `/` is an intake (INTAKE_FUNCTIONS)."""
    return tuple(f for f in routed_functions() if f not in INTAKE_FUNCTIONS)


def domain_mappings(domain: str = EXAMPLE_DOMAIN) -> list[Document]:
    """`<function>.<domain>` for each function of `domain_functions` (a DomainMapping's
    name is the host it serves)."""
    return [
        {
            "apiVersion": "serving.knative.dev/v1beta1",
            "kind": "DomainMapping",
            "metadata": {"name": f"{function}.{domain}", "namespace": NAMESPACE},
            "spec": {
                "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": function}
            },
        }
        for function in domain_functions()
    ]


def _route_rule(prefix: str, function: str, strip: bool, pattern: str) -> Document:
    literal = "*" not in prefix
    rewrite: Document = {"hostname": function_host(function)}
    if strip:
        rewrite["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
    return {
        "matches": [
            {"path": {"type": "PathPrefix", "value": prefix}}
            if literal
            else {"path": {"type": "RegularExpression", "value": pattern}}
        ],
        "filters": [{"type": "URLRewrite", "urlRewrite": rewrite}],
        "backendRefs": [
            {"name": KOURIER_INTERNAL[1], "namespace": KOURIER_INTERNAL[0], "port": 80}
        ],
    }


def single_host(domain: str = EXAMPLE_DOMAIN) -> list[Document]:
    """The seed's one-load-balancer layout as a Gateway API HTTPRoute: every public path of
    `functions.core.routes` on `domain`, sent to Kourier's internal gateway with the
    function's cluster host (and, for `/auth` and `/targeting`, the prefix stripped), plus
    the ReferenceGrant that lets the route reach Kourier's namespace."""
    rules = [_route_rule(r.prefix, r.function, r.strip, r.pattern) for r in ROUTES]
    return [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "togglemaster", "namespace": NAMESPACE},
            "spec": {
                "parentRefs": [{"name": "togglemaster", "sectionName": "https"}],
                "hostnames": [domain],
                "rules": rules,
            },
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "togglemaster-to-kourier", "namespace": KOURIER_INTERNAL[0]},
            "spec": {
                "from": [
                    {
                        "group": "gateway.networking.k8s.io",
                        "kind": "HTTPRoute",
                        "namespace": NAMESPACE,
                    }
                ],
                "to": [{"group": "", "kind": "Service", "name": KOURIER_INTERNAL[1]}],
            },
        },
    ]


def _single_host_problems(documents: Sequence[Document]) -> list[str]:
    routes = [d for d in documents if d.get("kind") == "HTTPRoute"]
    if not routes:
        return []
    hostnames = _get(routes[0], "spec", "hostnames") or [EXAMPLE_DOMAIN]
    wanted = single_host(hostnames[0])[0]["spec"]["rules"]
    if len(routes) != 1 or _get(routes[0], "spec", "rules") != wanted:
        return ["HTTPRoute/togglemaster: its rules are not functions.core.routes' routes"]
    return []


GENERATED: Mapping[str, Callable[[], list[Document]]] = {
    "overlays/eks/domain-mappings.yaml": domain_mappings,
    "overlays/single-host/routes.yaml": single_host,
}
"""Files under knative/ written from `functions.core.routes` (`write`)."""
GENERATED_HEADER = (
    "# Generated from functions/core/routes.py by `python -m functions.commands.manifests"
    " write`:\n# edit the routes there, not this file.\n"
)


def generated_text(relative: str) -> str:
    return GENERATED_HEADER + dump(GENERATED[relative]())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.manifests", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=["check", "write"])
    args = parser.parse_args(argv)
    if args.action == "write":
        for relative in GENERATED:
            (KNATIVE / relative).write_text(generated_text(relative), encoding="utf-8")
            print(f"wrote knative/{relative}")
        return 0
    failed = False
    for overlay in OVERLAYS:
        try:
            found = problems(render(KNATIVE / overlay))
        except ManifestError as exc:
            found = [str(exc)]
        failed = failed or bool(found)
        print(f"knative/{overlay}: " + ("ok" if not found else f"{len(found)} problem(s)"))
        for problem in found:
            print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
