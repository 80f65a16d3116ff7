"""ToggleMaster's CloudFormation stack (knative/aws/togglemaster.yaml): linted, deployed
with boto3 (no other toolchain), and read back as the values the manifests need.

`deploy_stack` creates the stack, or updates it (an update with nothing to change is not
an error), and waits until it settles; a failure names the stack's status and its first
failed resource's reason. `outputs` is what the release layer of `make deploy` is built
from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[2] / "knative" / "aws" / "togglemaster.yaml"
DEFAULT_STACK = "togglemaster"
OUTPUTS = (
    "QueueUrl",
    "QueueArn",
    "DeadLetterQueueUrl",
    "RawEventsTableName",
    "CountsTableName",
    "RepositoryUri",
    "EvaluationRoleArn",
    "EventsSourceRoleArn",
    "AnalyticsRoleArn",
    "DatabaseEndpoint",
    "RedisEndpoint",
)
"""What `make deploy` reads from the stack (every one the template declares)."""
CAPABILITIES = ["CAPABILITY_IAM"]
SETTLED_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})


class StackError(Exception):
    """The stack did not reach a good state; the message says why."""


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as data, its short-form functions (`!Ref`, `!Sub`…) read as AWS does."""
    from cfnlint.decode import cfn_yaml

    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def lint(path: Path = TEMPLATE) -> list[str]:
    """cfn-lint's findings (errors and warnings), one line each; empty when clean."""
    from cfnlint.api import lint_file

    return [
        f"{m.rule.id} {m.message} ({path.name}:{m.linenumber})"
        for m in lint_file(path)
        if m.rule.severity in ("error", "warning")
    ]


def deploy_stack(
    cloudformation: Any,
    name: str,
    parameters: Mapping[str, str],
    *,
    template_body: str | None = None,
    wait_delay: int = 5,
) -> dict[str, str]:
    """Create or update stack `name` with `parameters`, wait, and return its outputs."""
    body = template_body if template_body is not None else TEMPLATE.read_text(encoding="utf-8")
    arguments = {
        "StackName": name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": CAPABILITIES,
    }
    if _status(cloudformation, name) is None:
        cloudformation.create_stack(**arguments)
        waiter = "stack_create_complete"
    else:
        try:
            cloudformation.update_stack(**arguments)
        except Exception as exc:  # botocore's ClientError, without importing botocore here
            if "No updates are to be performed" not in str(exc):
                raise
            return outputs(cloudformation, name)
        waiter = "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": wait_delay, "MaxAttempts": 360}
        )
    except Exception as exc:  # the waiter's WaiterError: say what failed instead
        raise StackError(_why_failed(cloudformation, name)) from exc
    status = _status(cloudformation, name)
    if status not in SETTLED_OK:
        raise StackError(_why_failed(cloudformation, name))
    return outputs(cloudformation, name)


def outputs(cloudformation: Any, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    values = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    missing = [key for key in OUTPUTS if key not in values]
    if missing:
        raise StackError(f"stack {name} lacks the outputs {', '.join(missing)}")
    return values


def delete_stack(cloudformation: Any, name: str, *, wait_delay: int = 5) -> None:
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=name, WaiterConfig={"Delay": wait_delay, "MaxAttempts": 360}
    )


def _status(cloudformation: Any, name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status: str = stacks[0]["StackStatus"]
    return None if status == "DELETE_COMPLETE" else status


def _why_failed(cloudformation: Any, name: str) -> str:
    status = _status(cloudformation, name)
    events = cloudformation.describe_stack_events(StackName=name).get("StackEvents", [])
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
    reason = (
        f": {failed[-1]['LogicalResourceId']}: {failed[-1].get('ResourceStatusReason', '')}"
        if failed
        else ""
    )
    return f"stack {name} is {status}{reason}"
