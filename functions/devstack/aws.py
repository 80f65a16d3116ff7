"""Idempotent creation of the AWS resources the functions use (on moto, locally)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.devstack.moto import FAKE_CREDENTIALS

DLQ_SUFFIX = "-dlq"
MAX_RECEIVE_COUNT = 5


def client(service: str, *, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for ``service``; moto's fake credentials when none are configured."""
    credentials = {
        "aws_access_key_id": os.environ.get(
            "AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        ),
        "aws_secret_access_key": os.environ.get(
            "AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        ),
    }
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, **credentials)


def ensure_queue(endpoint_url: str | None, region: str, name: str) -> str:
    """Create queue ``name`` and its dead-letter queue ``<name>-dlq``; the queue's URL.

    A message received :data:`MAX_RECEIVE_COUNT` times without being deleted moves to
    the dead-letter queue. Running it again changes nothing.
    """
    sqs = client("sqs", endpoint_url=endpoint_url, region=region)
    dlq_url = sqs.create_queue(QueueName=f"{name}{DLQ_SUFFIX}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        )
    }
    try:
        queue_url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except ClientError as exc:
        if _error_code(exc) not in {"QueueAlreadyExists", "QueueNameExists"}:
            raise
        queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    return queue_url


def ensure_analytics_table(endpoint_url: str | None, region: str, table_name: str) -> str:
    """Create the analytics table (partition key ``event_id`` S, on demand); its name."""
    dynamodb = client("dynamodb", endpoint_url=endpoint_url, region=region)
    try:
        dynamodb.create_table(
            TableName=table_name,
            AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return table_name


def _error_code(exc: ClientError) -> str:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


def main(argv: list[str] | None = None) -> int:
    """`python -m functions.devstack.aws --endpoint URL`: create the queue and the table
    on an emulator (docker-compose runs it once before the functions start)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m functions.devstack.aws")
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--queue", default="togglemaster-evaluation-events")
    parser.add_argument("--table", default="ToggleMasterAnalytics")
    args = parser.parse_args(argv)
    print(ensure_queue(args.endpoint, args.region, args.queue))
    print(ensure_analytics_table(args.endpoint, args.region, args.table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
