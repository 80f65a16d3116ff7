"""`make deploy`: from a clone to ToggleMaster running on EKS with Knative, in one command.

1. Preflight: AWS credentials and region, the kubectl context, Knative Serving, Eventing
   (>= 1.20, for the SQS source's IRSA) and Kourier on the cluster, a container builder,
   secrets.env, a committed work tree; one message per missing piece, all at once.
2. The CloudFormation stack (knative/aws/togglemaster.yaml), created or updated.
3. The image, built and pushed to the stack's repository at an immutable tag: the commit.
4. The release layer (.run/deploy/<tag>/) rendered and checked (schemas, what every
   function needs, nothing left of the examples).
5. The migration Job of the release, with its settings and secrets, waited for.
6. Everything else applied; every Knative Service, DomainMapping and the source waited for
   until Ready.
7. A smoke test through Kourier: each public function's health, one evaluation with a
   short-lived key, and its event in DynamoDB.
8. The functions' URLs.

`--dry-run` (`make deploy DRY_RUN=1`) does what needs no cluster and no AWS account:
lints the template, renders and checks the release with example stack outputs, and
prints the plan. `--undeploy` removes the namespace (and, with `--delete-stack`, the AWS
resources, data included).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from functions.commands import aws_stack, manifests, release
from functions.commands.manifests import Document
from functions.commands.release import Release

MIN_EVENTING = (1, 20)
"""The SQS source authenticates through a ServiceAccount (IRSA) from Eventing 1.20."""
MIN_SERVING = (1, 17)
JOB_TIMEOUT = 600
READY_TIMEOUT = 300
EVENT_TIMEOUT = 90
SMOKE_FLAG = "deploy-smoke"


class DeployError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    layout: str = "eks"
    domain: str = manifests.EXAMPLE_DOMAIN
    stack: str = aws_stack.DEFAULT_STACK
    region: str | None = None
    secrets: Path = release.SECRETS_FILE
    allow_dirty: bool = False
    smoke: bool = True
    parameters: dict[str, str] = field(default_factory=dict)
    """Extra stack parameters (DatabaseEndpoint, RedisEndpoint, names)."""


# -- commands ------------------------------------------------------------------------------


def run(command: Sequence[str], *, stdin: str | None = None, timeout: float = 120) -> str:
    """Run a command; its output, or DeployError with its own message."""
    try:
        result = subprocess.run(
            list(command), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise DeployError(f"{command[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise DeployError(f"`{' '.join(command[:3])}` did not finish in {timeout:.0f} s") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise DeployError(f"`{' '.join(command[:4])}` failed: {' '.join(message[-3:])}")
    return result.stdout


def kubectl(*arguments: str, stdin: str | None = None, timeout: float = 60) -> str:
    return run(["kubectl", *arguments], stdin=stdin, timeout=timeout)


def kubectl_json(*arguments: str) -> Any:
    return json.loads(kubectl(*arguments, "-o", "json"))


def version(text: str) -> tuple[int, int]:
    """`v1.20.1`, `knative-v1.20.0`, `1.21` → (1, 20)."""
    digits = text.rsplit("v", 1)[-1].split(".")
    try:
        return int(digits[0]), int(digits[1])
    except (IndexError, ValueError):
        return (0, 0)


# -- preflight -----------------------------------------------------------------------------

Check = Callable[[Options], str | None]


def region_of(options: Options) -> str | None:
    import boto3

    return options.region or boto3.session.Session().region_name


def check_region(options: Options) -> str | None:
    if region_of(options):
        return None
    return "no AWS region: set AWS_REGION (or make deploy REGION=eu-west-1)"


def check_credentials(options: Options) -> str | None:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session()
    if session.get_credentials() is None:
        return (
            "no AWS credentials: configure a profile (aws configure sso, AWS_PROFILE) or set"
            " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    region = region_of(options)
    if not region:
        return None  # said by check_region
    try:
        session.client("sts", region_name=region).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return f"the AWS credentials are refused: {exc}"
    return None


def check_kubectl(options: Options) -> str | None:
    if shutil.which("kubectl") is None:
        return "kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)"
    try:
        context = kubectl("config", "current-context").strip()
    except DeployError:
        return (
            "kubectl has no current context: aws eks update-kubeconfig --name <cluster>"
            " --region <region>"
        )
    try:
        kubectl("version", "--request-timeout=10s")
    except DeployError as exc:
        return f"the cluster of kubectl context {context!r} does not answer: {exc}"
    return None


def _installed_version(namespace: str) -> tuple[int, int] | None:
    try:
        labels = kubectl_json("get", "namespace", namespace)["metadata"].get("labels", {})
    except DeployError:
        return None
    return version(str(labels.get("app.kubernetes.io/version", "v0.0")))


def check_knative(options: Options) -> str | None:
    problems = []
    serving = _installed_version("knative-serving")
    if serving is None:
        problems.append("Knative Serving is not installed (knative.dev/docs/install)")
    elif serving < MIN_SERVING:
        problems.append(f"Knative Serving {serving} is older than {MIN_SERVING}")
    eventing = _installed_version("knative-eventing")
    if eventing is None:
        problems.append("Knative Eventing is not installed (it runs the SQS source)")
    elif eventing < MIN_EVENTING:
        problems.append(
            f"Knative Eventing {eventing[0]}.{eventing[1]} is older than 1.20, the first whose"
            " SQS source authenticates through a ServiceAccount (IRSA)"
        )
    if serving is not None:
        try:
            network = kubectl_json("get", "configmap", "config-network", "-n", "knative-serving")
            ingress = json.dumps(network.get("data", {}))
            kubectl("get", "service", "kourier", "-n", "kourier-system")
        except DeployError:
            ingress = ""
        if "kourier" not in ingress:
            problems.append(
                "Kourier is not Knative's ingress: install net-kourier and set ingress-class"
                " to kourier.ingress.networking.knative.dev in config-network"
            )
        try:
            features = kubectl_json("get", "configmap", "config-features", "-n", "knative-serving")
        except DeployError:
            features = {}
        if (features.get("data") or {}).get("kubernetes.podspec-volumes-emptydir") == "disabled":
            problems.append(
                "Knative refuses emptyDir volumes (the functions' only writable folder, /tmp):"
                " set kubernetes.podspec-volumes-emptydir to enabled in config-features"
            )
    return "; ".join(problems) or None


def check_gateway(options: Options) -> str | None:
    if options.layout != "single-host":
        return None
    try:
        kubectl("get", "crd", "httproutes.gateway.networking.k8s.io")
    except DeployError:
        return "the single-host layout needs the Gateway API and an implementation of it"
    try:
        kubectl("get", "gateway", "togglemaster", "-n", manifests.NAMESPACE)
    except DeployError:
        return (
            "the single-host layout needs a Gateway called togglemaster in namespace"
            " togglemaster (README: One host for every function)"
        )
    return None


def check_builder(options: Options) -> str | None:
    if shutil.which("docker") is None:
        return "no container builder: install Docker (with buildx)"
    try:
        run(["docker", "buildx", "version"], timeout=30)
    except DeployError:
        return "docker buildx is missing (it builds the image for the cluster's platform)"
    try:
        run(["docker", "info"], timeout=30)
    except DeployError:
        return "the Docker engine does not answer: start it (docker info)"
    return None


def check_secrets(options: Options) -> str | None:
    return "; ".join(release.secrets_problems(options.secrets)) or None


def check_work_tree(options: Options) -> str | None:
    try:
        _, dirty = release.git_release()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "not a git clone: the image's tag is the commit it is built from"
    if dirty and not options.allow_dirty:
        return "uncommitted changes: commit them first (the image's tag names the commit)"
    return None


PREFLIGHT: tuple[tuple[str, Check, tuple[str, ...]], ...] = (
    ("AWS region", check_region, ()),
    ("AWS credentials", check_credentials, ()),
    ("kubectl context", check_kubectl, ()),
    ("Knative and Kourier", check_knative, ("kubectl context",)),
    ("Gateway (single host)", check_gateway, ("kubectl context",)),
    ("container builder", check_builder, ()),
    ("secrets.env", check_secrets, ()),
    ("work tree", check_work_tree, ()),
)
"""(what, the check, the checks it needs to have passed first)."""


def preflight(options: Options) -> list[str]:
    """Every missing piece, one message each (a check whose prerequisite failed is not
    run: its message would only repeat that one)."""
    failed: set[str] = set()
    problems = []
    for name, check, needs in PREFLIGHT:
        if failed & set(needs):
            failed.add(name)
            continue
        problem = check(options)
        if problem:
            failed.add(name)
            problems.append(f"{name}: {problem}")
    return problems


# -- the plan --------------------------------------------------------------------------------


def plan(options: Options, rel: Release, documents: Sequence[Document]) -> list[str]:
    kinds: dict[str, int] = {}
    for doc in documents:
        kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
    applied = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    outputs = rel.outputs
    lines = [
        f"1. preflight: {', '.join(name for name, _, _ in PREFLIGHT)}",
        f"2. CloudFormation stack {options.stack!r} in {rel.region}"
        f" ({release.shown(aws_stack.TEMPLATE)}): queue"
        f" {outputs['QueueUrl'].rsplit('/', 1)[-1]} and its dead-letter queue, tables"
        f" {outputs['RawEventsTableName']} and {outputs['CountsTableName']}, repository,"
        " IRSA roles for evaluation, analytics and the SQS source",
        f"3. build and push {rel.image} (skipped if the tag is already there)",
        f"4. render {release.shown(rel.directory)}/ on knative/overlays/{rel.layout}: {applied}",
        f"5. apply the namespace, accounts, settings and Secret; run Job {rel.job} and wait"
        f" (at most {JOB_TIMEOUT} s)",
        "6. apply the Services, the SQS source, the domains; wait until all are Ready"
        f" (at most {READY_TIMEOUT} s)",
        "7. smoke test through Kourier: /health of "
        + ", ".join(manifests.domain_functions())
        + f", one evaluation, its event in {outputs['RawEventsTableName']}",
        "8. print the URLs: " + ", ".join(f"{f} {u}" for f, u in rel.urls().items()),
    ]
    return lines


def dry_run(options: Options) -> int:
    region = options.region or os.environ.get("AWS_REGION") or "us-east-1"
    print("make deploy DRY_RUN=1: nothing is created; no cluster or AWS account is used.\n")
    findings = aws_stack.lint()
    print(f"template {release.shown(aws_stack.TEMPLATE)}: cfn-lint", end=" ")
    print("ok" if not findings else f"{len(findings)} finding(s)")
    for finding in findings:
        print(f"  {finding}")
    try:
        tag, dirty = release.git_release()
    except (subprocess.CalledProcessError, FileNotFoundError):
        tag, dirty = "unreleased", True
    secrets = options.secrets if options.secrets.is_file() else release.EXAMPLE_SECRETS
    rel = Release(
        tag=tag,
        outputs=release.example_outputs(region),
        region=region,
        domain=options.domain,
        layout=options.layout,
        secrets_file=secrets,
    )
    documents = release.render(rel)
    found = manifests.problems(documents, image=rel.image)
    # The example outputs and secrets are expected here; a real deploy refuses them.
    expected = (manifests.EXAMPLE_ACCOUNT, manifests.EXAMPLE_DOMAIN, "example's placeholder")
    found = [p for p in found if not any(e in p for e in expected)]
    print(f"release {release.shown(rel.directory)}/rendered.yaml:", end=" ")
    print(f"{len(documents)} objects, " + ("every check passes" if not found else "problems:"))
    for problem in found:
        print(f"  {problem}")
    notes = [
        "the stack's outputs are examples (account 000000000000)",
        f"the domain is {options.domain}"
        + (" (set DOMAIN=...)" if options.domain == manifests.EXAMPLE_DOMAIN else ""),
    ]
    if secrets == release.EXAMPLE_SECRETS:
        notes.append("secrets.env is missing: the example's placeholders were rendered")
    if dirty:
        notes.append(f"the work tree has uncommitted changes: a deploy would refuse tag {tag}")
    print("notes: " + "; ".join(notes) + "\n\nplan:")
    for line in plan(options, rel, documents):
        print(f"  {line}")
    return 1 if findings or found else 0


# -- the deploy ------------------------------------------------------------------------------


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def deploy(options: Options) -> int:
    step("preflight")
    problems = preflight(options)
    if problems:
        print("make deploy: not ready to deploy:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    import boto3

    region = region_of(options) or ""
    session = boto3.session.Session(region_name=region)
    tag, _ = release.git_release()
    step(f"CloudFormation stack {options.stack} ({region})")
    parameters = {"OidcProviderArn": oidc_provider(session), **options.parameters}
    outputs = aws_stack.deploy_stack(session.client("cloudformation"), options.stack, parameters)
    rel = Release(tag, outputs, region, options.domain, options.layout, options.secrets)
    step(f"image {rel.image}")
    build_and_push(session, rel)
    step(f"render {release.shown(rel.directory)}")
    documents = release.render(rel)
    found = manifests.problems(documents, image=rel.image)
    if found:
        raise DeployError("the release does not pass its checks:\n  " + "\n  ".join(found))
    step(f"migrations: Job {rel.job}")
    kubectl("apply", "-f", "-", stdin=manifests.dump(release.first_phase(documents)))
    wait_for_job(rel.job)
    step("apply")
    kubectl("apply", "-f", "-", stdin=manifests.dump(documents), timeout=120)
    wait_until_ready(options)
    if options.smoke:
        step("smoke test through Kourier")
        smoke_test(session, rel)
    step("ToggleMaster is up:")
    for function, url in rel.urls().items():
        print(f"  {function:<10} {url}")
    return 0


def oidc_provider(session: Any) -> str:
    """The cluster's IAM OIDC provider, from the issuer the cluster itself publishes."""
    issuer = json.loads(kubectl("get", "--raw", "/.well-known/openid-configuration"))["issuer"]
    host = issuer.removeprefix("https://")
    account = session.client("sts").get_caller_identity()["Account"]
    arn = f"arn:aws:iam::{account}:oidc-provider/{host}"
    try:
        session.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except Exception as exc:
        raise DeployError(
            f"the cluster's OIDC issuer {issuer} has no IAM provider (IRSA needs it):"
            " eksctl utils associate-iam-oidc-provider --cluster <cluster> --approve"
        ) from exc
    return arn


def build_and_push(session: Any, rel: Release) -> None:
    ecr = session.client("ecr")
    repository = rel.outputs["RepositoryUri"].split("/", 1)[1]
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": rel.tag}])
        print(f"  {rel.image} is already pushed (tags are immutable): not built again")
        return
    except ecr.exceptions.ImageNotFoundException:
        pass
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    registry = rel.outputs["RepositoryUri"].split("/", 1)[0]
    run(["docker", "login", "--username", user, "--password-stdin", registry], stdin=password)
    run(
        ["docker", "buildx", "build", "--platform", "linux/amd64", "--tag", rel.image,
         "--push", str(manifests.ROOT)],
        timeout=1800,
    )  # fmt: skip


def wait_for_job(job: str) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        status = kubectl_json("get", "job", job, "-n", manifests.NAMESPACE).get("status", {})
        if status.get("succeeded"):
            print(kubectl("logs", f"job/{job}", "-n", manifests.NAMESPACE).strip())
            return
        failed = [c for c in status.get("conditions", []) if c.get("type") == "Failed"]
        if failed and failed[0].get("status") == "True":
            logs = kubectl("logs", f"job/{job}", "-n", manifests.NAMESPACE, "--tail=20")
            raise DeployError(f"Job {job} failed ({failed[0].get('reason')}):\n{logs}")
        time.sleep(3)
    raise DeployError(f"Job {job} did not finish in {JOB_TIMEOUT} s: kubectl logs job/{job}")


def wait_until_ready(options: Options) -> None:
    kinds = ["ksvc", "integrationsource", "domainmapping"]
    for kind in kinds:
        kubectl(
            "wait", kind, "--all", "-n", manifests.NAMESPACE, "--for=condition=Ready",
            f"--timeout={READY_TIMEOUT}s", timeout=READY_TIMEOUT + 30,
        )  # fmt: skip


def kourier_address() -> str:
    service = kubectl_json("get", "service", "kourier", "-n", "kourier-system")
    ingress = service.get("status", {}).get("loadBalancer", {}).get("ingress", [{}])[0]
    address = ingress.get("hostname") or ingress.get("ip")
    if not address:
        raise DeployError("Kourier's load balancer has no address yet")
    return str(address)


def http(address: str, host: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    """A request to Kourier's load balancer for `host` (before DNS points at it)."""
    body = json.dumps(kw["json"]).encode() if "json" in kw else None
    headers = {"Host": host, "Content-Type": "application/json", **kw.get("headers", {})}
    request = urllib.request.Request(
        f"http://{address}{path}", data=body, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def smoke_test(session: Any, rel: Release) -> None:
    address = kourier_address()
    for function in manifests.domain_functions():
        status, body = http(address, f"{function}.{rel.domain}", "GET", "/health")
        if status != 200:
            raise DeployError(f"{function}: /health answered {status}: {body}")
        print(f"  {function}: healthy")
    master = release.read_env_file(rel.secrets_file)["MASTER_KEY"]
    admin = {"Authorization": f"Bearer {master}"}
    expires = (datetime.now(UTC) + timedelta(minutes=15)).isoformat()
    status, key = http(
        address, f"auth.{rel.domain}", "POST", "/admin/keys", headers=admin,
        json={"name": SMOKE_FLAG, "scopes": ["evaluate"], "expires_at": expires},
    )  # fmt: skip
    if status != 201:
        raise DeployError(f"auth: POST /admin/keys answered {status}: {key}")
    user = f"deploy-smoke-{rel.tag}"
    try:
        status, decision = http(
            address, f"evaluation.{rel.domain}", "GET",
            f"/evaluate?user_id={user}&flag_name={SMOKE_FLAG}",
            headers={"Authorization": f"Bearer {key['key']}"},
        )  # fmt: skip
    finally:
        http(
            address, f"auth.{rel.domain}", "POST", f"/admin/keys/{key['id']}/revoke", headers=admin
        )
    if status != 200:
        raise DeployError(f"evaluation: GET /evaluate answered {status}: {decision}")
    print(f"  evaluation: {decision}")
    wait_for_event(session, rel.outputs["RawEventsTableName"], user)


def wait_for_event(session: Any, table: str, user: str) -> None:
    """The smoke evaluation's raw item, found by a filtered Scan (the table is keyed by
    event id): read capacity in proportion to the table's size, once per deploy."""
    dynamodb = session.client("dynamodb")
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        paginator = dynamodb.get_paginator("scan")
        for page in paginator.paginate(
            TableName=table,
            FilterExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": user}},
            ProjectionExpression="event_id",
        ):
            if page.get("Items"):
                print(f"  analytics: the event reached {table}")
                return
        time.sleep(5)
    raise DeployError(
        f"the smoke evaluation's event did not reach {table} in {EVENT_TIMEOUT} s: look at"
        " the SQS source (kubectl describe integrationsource -n togglemaster) and analytics"
    )


def undeploy(options: Options, *, delete_stack: bool) -> int:
    step(f"delete namespace {manifests.NAMESPACE}")
    kubectl("delete", "namespace", manifests.NAMESPACE, "--ignore-not-found", timeout=600)
    kubectl(
        "delete", "referencegrant", "togglemaster-to-kourier", "-n", "kourier-system",
        "--ignore-not-found",
    )  # fmt: skip
    if delete_stack:
        import boto3

        session = boto3.session.Session(region_name=region_of(options))
        step(f"delete stack {options.stack}: the queue, the analytics tables, the images")
        outputs = aws_stack.outputs(session.client("cloudformation"), options.stack)
        ecr = session.client("ecr")
        repository = outputs["RepositoryUri"].split("/", 1)[1]
        images = ecr.list_images(repositoryName=repository).get("imageIds", [])
        if images:
            ecr.batch_delete_image(repositoryName=repository, imageIds=images)
        aws_stack.delete_stack(session.client("cloudformation"), options.stack)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.deploy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dry-run", action="store_true", help="render, check and plan only")
    parser.add_argument("--undeploy", action="store_true", help="remove the namespace")
    parser.add_argument("--delete-stack", action="store_true", help="with --undeploy")
    parser.add_argument("--layout", choices=release.LAYOUTS, default="eks")
    parser.add_argument("--domain", default=os.environ.get("DOMAIN") or manifests.EXAMPLE_DOMAIN)
    parser.add_argument("--stack", default=aws_stack.DEFAULT_STACK)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or None)
    parser.add_argument("--secrets", type=Path, default=release.SECRETS_FILE)
    parser.add_argument("--allow-dirty", action="store_true")
    parser.add_argument("--no-smoke", dest="smoke", action="store_false")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE",
        help="a stack parameter, such as DatabaseEndpoint=db.example.internal",
    )  # fmt: skip
    args = parser.parse_args(argv)
    options = Options(
        dry_run=args.dry_run,
        layout=args.layout,
        domain=args.domain,
        stack=args.stack,
        region=args.region,
        secrets=args.secrets,
        allow_dirty=args.allow_dirty,
        smoke=args.smoke,
        parameters=dict(p.split("=", 1) for p in args.parameter if "=" in p),
    )
    try:
        if args.undeploy:
            return undeploy(options, delete_stack=args.delete_stack)
        if options.dry_run:
            return dry_run(options)
        if options.domain == manifests.EXAMPLE_DOMAIN:
            raise DeployError("set the domain the functions answer on: make deploy DOMAIN=...")
        return deploy(options)
    except (DeployError, aws_stack.StackError, manifests.ManifestError) as exc:
        print(f"make deploy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
