"""The CloudFormation template deployed to the moto server with the code `make deploy`
runs (functions.commands.aws_stack): every resource is created as the template says,
the outputs the manifests are built from are there, and deploying again changes nothing.

moto neither applies DynamoDB TTL nor ECR scan-on-push from a template: those two are
checked on the template itself (tests/unit/test_cloudformation_template.py)."""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from functions.commands import aws_stack
from functions.devstack.aws import client

REGION = "us-east-1"
OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/TEST"


@pytest.fixture
def deployed(moto_endpoint: str) -> Iterator[tuple[Any, str, dict[str, str]]]:
    """A stack of the template with unique names, deployed; deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    cloudformation = client("cloudformation", endpoint_url=moto_endpoint, region=REGION)
    name = f"togglemaster-{suffix}"
    parameters = {
        "OidcProviderArn": OIDC,
        "QueueName": f"events-{suffix}",
        "RawEventsTableName": f"Raw-{suffix}",
        "CountsTableName": f"Counts-{suffix}",
        "RepositoryName": f"togglemaster-{suffix}",
        "DatabaseEndpoint": "db.example.internal",
    }
    outputs = aws_stack.deploy_stack(cloudformation, name, parameters, wait_delay=1)
    yield cloudformation, name, outputs
    aws_stack.delete_stack(cloudformation, name, wait_delay=1)


def test_deploy__fresh_account__queue_tables_repository_roles_and_outputs(
    moto_endpoint: str, deployed: tuple[Any, str, dict[str, str]]
) -> None:
    # Given the stack deployed above
    _, _, outputs = deployed
    sqs = client("sqs", endpoint_url=moto_endpoint, region=REGION)
    dynamodb = client("dynamodb", endpoint_url=moto_endpoint, region=REGION)
    ecr = client("ecr", endpoint_url=moto_endpoint, region=REGION)
    iam = client("iam", endpoint_url=moto_endpoint, region=REGION)

    # When each resource is read back through its own API
    queue = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=outputs["QueueUrl"].rsplit("/", 1)[1])["QueueUrl"],
        AttributeNames=["All"],
    )["Attributes"]
    dead_letters = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=outputs["DeadLetterQueueUrl"].rsplit("/", 1)[1])[
            "QueueUrl"
        ],
        AttributeNames=["All"],
    )["Attributes"]
    raw = dynamodb.describe_table(TableName=outputs["RawEventsTableName"])["Table"]
    counts = dynamodb.describe_table(TableName=outputs["CountsTableName"])["Table"]
    (repository,) = ecr.describe_repositories(
        repositoryNames=[outputs["RepositoryUri"].rsplit("/", 1)[1]]
    )["repositories"]
    evaluation_role = outputs["EvaluationRoleArn"].rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=evaluation_role)["Role"]["AssumeRolePolicyDocument"]
    (policy_name,) = iam.list_role_policies(RoleName=evaluation_role)["PolicyNames"]
    policy = iam.get_role_policy(RoleName=evaluation_role, PolicyName=policy_name)

    # Then the queue redrives to its dead-letter queue after 5 receives, hides a message
    # 300 s, keeps dead letters 14 days; the tables are on demand with their keys; the
    # repository's tags are immutable; evaluation's role trusts its ServiceAccount only
    # and may only send to the queue
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert queue["QueueArn"] == outputs["QueueArn"]
    assert (queue["VisibilityTimeout"], queue["MaximumMessageSize"]) == ("300", "262144")
    assert dead_letters["MessageRetentionPeriod"] == "1209600"
    assert [k["AttributeName"] for k in raw["KeySchema"]] == ["event_id"]
    assert [k["AttributeName"] for k in counts["KeySchema"]] == ["pk", "sk"]
    assert raw["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert counts["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert repository["imageTagMutability"] == "IMMUTABLE"
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC}
    issuer = OIDC.split("oidc-provider/")[1]
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:togglemaster:evaluation",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    document = policy["PolicyDocument"]
    if isinstance(document, str):
        # moto keeps a template's inline policy as the text of a Python dict
        document = ast.literal_eval(unquote(document))
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": outputs["QueueArn"]}
    ]
    assert outputs["DatabaseEndpoint"] == "db.example.internal"
    assert set(outputs) == set(aws_stack.OUTPUTS)


def test_deploy__run_again_unchanged__same_outputs_and_still_complete(
    deployed: tuple[Any, str, dict[str, str]],
) -> None:
    # Given the stack deployed above
    cloudformation, name, first = deployed
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]
    }

    # When make deploy runs again with the same template and parameters
    again = aws_stack.deploy_stack(cloudformation, name, parameters, wait_delay=1)

    # Then nothing changed
    assert again == first
    status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    assert status in aws_stack.SETTLED_OK
