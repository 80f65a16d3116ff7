"""The CloudFormation template (knative/aws/togglemaster.yaml): cfn-lint finds nothing,
the tables are exactly analytics' own definitions, the queue holds the numbers agreed
with analytics, and each role may do only what its workload needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from functions.commands import aws_stack
from functions.core.stores.analytics_tables import COUNTS_TABLE, RAW_TABLE, TABLES


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return aws_stack.load_template()


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def test_template__as_committed__cfn_lint_finds_nothing() -> None:
    # Given / When
    findings = aws_stack.lint()

    # Then
    assert findings == []


def test_template__misspelt_property__cfn_lint_names_it(tmp_path: Path) -> None:
    # Given the template with one property misspelt
    broken = tmp_path / "togglemaster.yaml"
    text = aws_stack.TEMPLATE.read_text(encoding="utf-8")
    broken.write_text(text.replace("VisibilityTimeout: 300", "VisibilityTimout: 300", 1))

    # When it is linted
    findings = aws_stack.lint(broken)

    # Then the misspelling is named
    assert any("VisibilityTimout" in finding for finding in findings), findings


@pytest.mark.parametrize("table", [RAW_TABLE, COUNTS_TABLE])
def test_tables__template__exactly_analytics_definitions(
    template: dict[str, Any], table: str
) -> None:
    # Given the table's definition in functions.core.stores.analytics_tables
    definition = TABLES[table]
    parameter = {RAW_TABLE: "RawEventsTableName", COUNTS_TABLE: "CountsTableName"}[table]

    # When the template's table of that name is found
    (properties,) = [
        p
        for p in _resources(template, "AWS::DynamoDB::Table").values()
        if p["TableName"] == {"Ref": parameter}
    ]

    # Then keys, attributes, billing and TTL are the same, with no index
    assert template["Parameters"][parameter]["Default"] == table
    for key in ("AttributeDefinitions", "KeySchema", "BillingMode"):
        assert properties[key] == definition.create_table[key]
    assert properties["TimeToLiveSpecification"] == {
        "AttributeName": definition.ttl_attribute,
        "Enabled": True,
    }
    assert "GlobalSecondaryIndexes" not in properties
    assert "LocalSecondaryIndexes" not in properties


def test_queue__template__numbers_agreed_with_analytics(template: dict[str, Any]) -> None:
    # Given / When
    queues = _resources(template, "AWS::SQS::Queue")
    queue, dead_letters = queues["EventsQueue"], queues["EventsDeadLetterQueue"]

    # Then a message is hidden 300 s per receive, dead-lettered after 5 receives (25 min of
    # failures), kept 14 days there, and may be as large as SQS allows
    assert queue["VisibilityTimeout"] == 300
    assert queue["MaximumMessageSize"] == 262144
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_repository__template__immutable_tags_scanned_on_push(template: dict[str, Any]) -> None:
    # Given / When
    (repository,) = _resources(template, "AWS::ECR::Repository").values()

    # Then
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}


ROLES = {
    "EvaluationRole": (
        "evaluation",
        {"sqs:SendMessage"},
        [{"Fn::GetAtt": ["EventsQueue", "Arn"]}],
    ),
    "EventsSourceRole": (
        "evaluation-events",
        {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        },
        [{"Fn::GetAtt": ["EventsQueue", "Arn"]}],
    ),
    "AnalyticsRole": (
        "analytics",
        {
            "dynamodb:DescribeTable",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
        },
        [
            {"Fn::GetAtt": ["RawEventsTable", "Arn"]},
            {"Fn::GetAtt": ["CountsTable", "Arn"]},
        ],
    ),
}


def test_roles__template__one_per_workload_with_aws_needs(template: dict[str, Any]) -> None:
    # Given / When
    roles = set(_resources(template, "AWS::IAM::Role"))

    # Then evaluation, the SQS source and analytics have a role; auth, flags, targeting
    # and the migrations have none (no AWS rights at all)
    assert roles == set(ROLES)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_role__policy__least_privilege_on_its_own_resources(
    template: dict[str, Any], role: str
) -> None:
    # Given the role's workload, actions and resources
    account, actions, resources = ROLES[role]
    statements = _statements(template, role)
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]

    # When its statements are read
    granted = {
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    targets = [
        resource
        for statement in statements
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]

    # Then it allows exactly those actions on exactly its resources, no wildcard, and
    # only its own ServiceAccount may assume it, through the cluster's OIDC provider
    assert all(statement["Effect"] == "Allow" for statement in statements)
    assert granted == actions
    assert targets == resources
    assert "*" not in str(statements)
    text = trust["Fn::Sub"][0]
    assert f'"system:serviceaccount:${{Namespace}}:{account}"' in text
    assert '"${Issuer}:aud": "sts.amazonaws.com"' in text
    assert "sts:AssumeRoleWithWebIdentity" in text


def test_outputs__template__every_value_make_deploy_reads(template: dict[str, Any]) -> None:
    # Given / When
    declared = set(template["Outputs"])

    # Then
    assert declared == set(aws_stack.OUTPUTS)
