"""The queue and table `make dev` creates on moto exist once, however often it runs."""

from __future__ import annotations

import json

from functions.devstack.aws import client, ensure_analytics_table, ensure_queue

REGION = "us-east-1"


def test_ensure_queue__called_twice__same_queue_redriving_to_its_dlq(moto_endpoint: str) -> None:
    # Given
    name = "devstack-test-idempotent"
    first_url = ensure_queue(moto_endpoint, REGION, name)

    # When
    second_url = ensure_queue(moto_endpoint, REGION, name)

    # Then
    sqs = client("sqs", endpoint_url=moto_endpoint, region=REGION)
    assert second_url == first_url
    attributes = sqs.get_queue_attributes(QueueUrl=first_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{name}-dlq")
    assert int(redrive["maxReceiveCount"]) == 5
    queue_names = [url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]]
    assert queue_names.count(name) == 1
    assert queue_names.count(f"{name}-dlq") == 1


def test_ensure_analytics_table__called_twice__on_demand_table_keyed_by_event_id(
    moto_endpoint: str,
) -> None:
    # Given
    name = "DevstackTestAnalytics"
    ensure_analytics_table(moto_endpoint, REGION, name)

    # When
    returned = ensure_analytics_table(moto_endpoint, REGION, name)

    # Then
    table = client("dynamodb", endpoint_url=moto_endpoint, region=REGION).describe_table(
        TableName=name
    )["Table"]
    assert returned == name
    assert table["KeySchema"] == [{"AttributeName": "event_id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "event_id", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
