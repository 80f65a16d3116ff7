"""Idempotent creation of the AWS resources the functions use (on moto, locally)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.core.stores.analytics_tables import COUNTS_TABLE, RAW_TABLE, ensure_tables
from functions.devstack.moto import FAKE_CREDENTIALS

DLQ_SUFFIX = "-dlq"
MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT_SECONDS = 300
"""How long a received message stays hidden before SQS delivers it again. With
:data:`MAX_RECEIVE_COUNT` receives, a valid message reaches the dead-letter queue only
after 25 minutes of failures: an analytics or DynamoDB outage of 15 minutes sends it
nowhere (the deploy's queue has the same numbers)."""
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""The dead-letter queue keeps messages for SQS's longest, 14 days, until redriven."""


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


def ensure_queue(
    endpoint_url: str | None,
    region: str,
    name: str,
    *,
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> str:
    """Create queue ``name`` and its dead-letter queue ``<name>-dlq``; the queue's URL.

    A message received ``max_receive_count`` times without being deleted moves to the
    dead-letter queue at its next receive; each receive hides it ``visibility_timeout``
    seconds (tests scale both down). Running it again sets the same attributes.
    """
    sqs = client("sqs", endpoint_url=endpoint_url, region=region)
    dlq_attributes = {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    dlq_url = _create_or_update(sqs, f"{name}{DLQ_SUFFIX}", dlq_attributes)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
        ),
    }
    return _create_or_update(sqs, name, attributes)


def _create_or_update(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        queue_url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except ClientError as exc:
        if _error_code(exc) not in {"QueueAlreadyExists", "QueueNameExists"}:
            raise
        queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    return queue_url


def counts_table_for(table_name: str) -> str:
    """The aggregates table beside raw table ``table_name``: ``ToggleMasterAnalytics`` →
    ``ToggleMasterAnalyticsCounts``, the deploy's names."""
    return f"{table_name}Counts"


def ensure_analytics_table(
    endpoint_url: str | None, region: str, table_name: str, counts_table: str | None = None
) -> str:
    """Create the raw table ``table_name`` and its aggregates table (``counts_table``, by
    default :func:`counts_table_for`), as `stores.analytics_tables` defines them; the raw
    table's name."""
    dynamodb = client("dynamodb", endpoint_url=endpoint_url, region=region)
    ensure_tables(
        dynamodb,
        {RAW_TABLE: table_name, COUNTS_TABLE: counts_table or counts_table_for(table_name)},
    )
    return table_name


def _error_code(exc: ClientError) -> str:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


def main(argv: list[str] | None = None) -> int:
    """`python -m functions.devstack.aws --endpoint URL`: create the queue and the tables
    on an emulator (docker-compose runs it once before the functions start)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m functions.devstack.aws")
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--queue", default="togglemaster-evaluation-events")
    parser.add_argument("--table", default=RAW_TABLE)
    args = parser.parse_args(argv)
    print(ensure_queue(args.endpoint, args.region, args.queue))
    print(ensure_analytics_table(args.endpoint, args.region, args.table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
