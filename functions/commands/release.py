"""One release of ToggleMaster on the cluster: the kustomize layer `make deploy` writes on
top of an overlay, and what it renders to.

The layer lives in `.run/deploy/<tag>/` (git-ignored, kept so that a release can be
rendered again, compared or re-applied): the image at its immutable tag (the git SHA),
the AWS names and ARNs from the CloudFormation stack's outputs, an IRSA role on each
account that needs AWS, the migration Job named after the release, the custom domain, and
the Secret from secrets.env. Nothing account-specific is ever committed under knative/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from functions.commands import manifests
from functions.commands.manifests import Document
from functions.core.routes import routed_functions

RUN_DIR = manifests.ROOT / ".run" / "deploy"
SECRETS_FILE = manifests.KNATIVE / "overlays" / "eks" / "secrets.env"
EXAMPLE_SECRETS = manifests.KNATIVE / "base" / "secrets.example.env"
LAYOUTS = ("eks", "single-host")
ROLE_OUTPUTS = {
    "evaluation": "EvaluationRoleArn",
    "analytics": "AnalyticsRoleArn",
    "evaluation-events": "EventsSourceRoleArn",
}
"""Which stack output is each account's IRSA role."""
SECRET_KEYS = (
    "AUTH_DATABASE_URL",
    "CONFIG_DATABASE_URL",
    "REDIS_URL",
    "MASTER_KEY",
    "GRANT_SECRET",
    "EVENTS_SIGNING_SECRET",
)


@dataclass(frozen=True)
class Release:
    tag: str
    """The image's tag: the commit it is built from."""
    outputs: Mapping[str, str]
    """The CloudFormation stack's outputs (functions.commands.aws_stack.OUTPUTS)."""
    region: str
    domain: str
    layout: str = "eks"
    secrets_file: Path = SECRETS_FILE

    @property
    def image(self) -> str:
        return f"{self.outputs['RepositoryUri']}:{self.tag}"

    @property
    def job(self) -> str:
        return f"migrate-{self.tag}"

    @property
    def directory(self) -> Path:
        return RUN_DIR / self.tag

    def urls(self) -> dict[str, str]:
        """Where each public function answers once DNS points the domain at Kourier."""
        if self.layout == "single-host":
            return {function: f"https://{self.domain}" for function in routed_functions()}
        return {f: f"https://{f}.{self.domain}" for f in manifests.domain_functions()}


def git_release(root: Path = manifests.ROOT) -> tuple[str, bool]:
    """(the commit's short SHA, whether the work tree has uncommitted changes)."""

    def git(*arguments: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(root), *arguments],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout.strip()

    sha = git("rev-parse", "--short=12", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return sha, dirty


def shown(path: Path) -> str:
    """A path as the user reads it: from the repository's root when it is inside it."""
    return (
        str(path.relative_to(manifests.ROOT)) if path.is_relative_to(manifests.ROOT) else str(path)
    )


def example_outputs(region: str, account: str = manifests.EXAMPLE_ACCOUNT) -> dict[str, str]:
    """What the stack's outputs look like, for a dry run without an AWS account."""
    queue = "togglemaster-evaluation-events"
    role = f"arn:aws:iam::{account}:role/togglemaster"
    return {
        "QueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{queue}",
        "QueueArn": f"arn:aws:sqs:{region}:{account}:{queue}",
        "DeadLetterQueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{queue}-dlq",
        "RawEventsTableName": "ToggleMasterAnalytics",
        "CountsTableName": "ToggleMasterAnalyticsCounts",
        "RepositoryUri": f"{account}.dkr.ecr.{region}.amazonaws.com/togglemaster",
        "EvaluationRoleArn": f"{role}-EvaluationRole",
        "EventsSourceRoleArn": f"{role}-EventsSourceRole",
        "AnalyticsRoleArn": f"{role}-AnalyticsRole",
        "DatabaseEndpoint": "",
        "RedisEndpoint": "",
    }


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines, as kustomize's secretGenerator reads them."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def layer(release: Release) -> dict[str, Any]:
    """The release's kustomization, on top of knative/overlays/<layout>."""
    outputs = release.outputs
    repository, _, _ = outputs["RepositoryUri"].partition(":")
    overlay = manifests.KNATIVE / "overlays" / release.layout
    patches: list[dict[str, Any]] = [
        _replace("Job", "migrate", "/metadata/name", release.job),
        _replace(
            "IntegrationSource", "evaluation-events", "/spec/aws/sqs/arn", outputs["QueueArn"]
        ),
        _replace("IntegrationSource", "evaluation-events", "/spec/aws/sqs/region", release.region),
    ]
    for account, output in ROLE_OUTPUTS.items():
        patches.append(
            {
                "target": {"kind": "ServiceAccount", "name": account},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "add",
                            "path": "/metadata/annotations",
                            "value": {"eks.amazonaws.com/role-arn": outputs[output]},
                        }
                    ]
                ),
            }
        )
    for function in manifests.domain_functions():
        example = f"{function}.{manifests.EXAMPLE_DOMAIN}"
        patches.append(
            _replace("DomainMapping", example, "/metadata/name", f"{function}.{release.domain}")
        )
    if release.layout == "single-host":
        patches.append(_replace("HTTPRoute", "togglemaster", "/spec/hostnames", [release.domain]))
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay, release.directory)],
        "images": [{"name": "togglemaster", "newName": repository, "newTag": release.tag}],
        "configMapGenerator": [
            {
                "name": "togglemaster-aws",
                "namespace": manifests.NAMESPACE,
                "behavior": "replace",
                "literals": [
                    f"AWS_REGION={release.region}",
                    f"AWS_SQS_URL={outputs['QueueUrl']}",
                    f"AWS_DYNAMODB_TABLE={outputs['RawEventsTableName']}",
                    f"AWS_DYNAMODB_COUNTS_TABLE={outputs['CountsTableName']}",
                ],
            }
        ],
        "secretGenerator": [
            {
                "name": "togglemaster",
                "namespace": manifests.NAMESPACE,
                "behavior": "replace",
                "envs": ["secrets.env"],
            }
        ],
        "patches": patches,
    }


def _replace(kind: str, name: str, path: str, value: Any) -> dict[str, Any]:
    return {
        "target": {"kind": kind, "name": name},
        "patch": yaml.safe_dump([{"op": "replace", "path": path, "value": value}]),
    }


def write(release: Release) -> Path:
    """Write the layer and its copy of the secrets (readable by the owner only)."""
    directory = release.directory
    directory.mkdir(parents=True, exist_ok=True)
    secrets = directory / "secrets.env"
    secrets.unlink(missing_ok=True)
    shutil.copyfile(release.secrets_file, secrets)
    secrets.chmod(0o600)
    (directory / "kustomization.yaml").write_text(
        "# Written by `make deploy` for this release; rendered to rendered.yaml.\n"
        + yaml.safe_dump(layer(release), sort_keys=False),
        encoding="utf-8",
    )
    return directory


def render(release: Release) -> list[Document]:
    """Write the layer, render it, and keep the result beside it (rendered.yaml)."""
    directory = write(release)
    documents = manifests.render(directory)
    (directory / "rendered.yaml").write_text(manifests.dump(documents), encoding="utf-8")
    (directory / "rendered.yaml").chmod(0o600)
    return documents


FIRST_KINDS = ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "Job")
"""Applied, and the Job waited for, before anything else: the migrations run with the
release's own settings and secrets before any Service of the release rolls."""


def first_phase(documents: list[Document]) -> list[Document]:
    return [d for d in documents if d.get("kind") in FIRST_KINDS]


def secrets_problems(path: Path) -> list[str]:
    """What is wrong with secrets.env, one line each: missing, a key absent, a value left
    as the example's, or a value the functions would refuse at start-up."""
    from functions.core.settings import AuthSettings, KeyChecks

    if not path.is_file():
        return [
            f"{shown(path)} is missing: copy {shown(EXAMPLE_SECRETS)} there and fill it in"
            " (it is git-ignored)"
        ]
    values = read_env_file(path)
    problems = [f"secrets.env: {key} is missing" for key in SECRET_KEYS if not values.get(key)]
    for key, value in values.items():
        if manifests.EXAMPLE_VALUE in value or "your-" in value or "PASSWORD@" in value:
            problems.append(f"secrets.env: {key} still holds the example's placeholder")
    checks = {
        "MASTER_KEY": AuthSettings.model_fields["master_key"],
        "GRANT_SECRET": KeyChecks.model_fields["grant_secret"],
        "EVENTS_SIGNING_SECRET": KeyChecks.model_fields["grant_secret"],
    }
    for key, field in checks.items():
        given = values.get(key)
        if not given or manifests.EXAMPLE_VALUE in given:
            continue
        for check in field.metadata:
            try:
                check.func(given)
            except ValueError as exc:
                problems.append(f"secrets.env: {key} {exc}")
    return problems
