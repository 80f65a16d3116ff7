"""moto keeps its state in memory only: `make dev` saves what its SQS queues and DynamoDB
tables hold when it stops, and puts it back when it starts, so that the analytics table
(and any event still queued) survives a restart.

The file is JSON, written whole and then renamed into place, and kept after it is
restored: a stack killed before it could save again restores the same file next time,
and restoring is idempotent for the table (items are keyed by `event_id`) and for the
analytics function (a message delivered twice rewrites the same items).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from functions.devstack.aws import client

logger = logging.getLogger(__name__)

_BATCH = 25
"""DynamoDB's `BatchWriteItem` limit."""
_RECEIVE = 10
"""SQS's `ReceiveMessage` limit."""
_HIDDEN_SECONDS = 300
"""How long a saved message stays hidden, so that the save reads each one once."""


def save_state(
    endpoint_url: str,
    region: str,
    *,
    queues: Sequence[str],
    tables: Sequence[str],
    path: Path,
) -> dict[str, int]:
    """Write every message of `queues` (by name) and every item of `tables` to `path`;
    how many of each were saved, by queue or table name."""
    sqs = client("sqs", endpoint_url=endpoint_url, region=region)
    dynamodb = client("dynamodb", endpoint_url=endpoint_url, region=region)
    state = {
        "queues": {name: list(_messages(sqs, name)) for name in queues},
        "tables": {name: list(_items(dynamodb, name)) for name in tables},
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(state))
    os.replace(partial, path)
    counts = {name: len(saved) for name, saved in state["queues"].items()}
    counts |= {name: len(saved) for name, saved in state["tables"].items()}
    return counts


def restore_state(endpoint_url: str, region: str, *, path: Path) -> dict[str, int]:
    """Send the saved messages and write the saved items again (queues and tables exist
    already); how many of each, by name. Nothing to restore: {}."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except ValueError:
        logger.warning("%s is not JSON: moto starts empty", path)
        return {}
    sqs = client("sqs", endpoint_url=endpoint_url, region=region)
    dynamodb = client("dynamodb", endpoint_url=endpoint_url, region=region)
    counts: dict[str, int] = {}
    for name, messages in state.get("queues", {}).items():
        queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        for message in messages:
            sqs.send_message(QueueUrl=queue_url, **message)
        counts[name] = len(messages)
    for name, items in state.get("tables", {}).items():
        for start in range(0, len(items), _BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]]
            while requests:
                answer = dynamodb.batch_write_item(RequestItems={name: requests})
                requests = answer.get("UnprocessedItems", {}).get(name, [])
        counts[name] = len(items)
    return counts


def _messages(sqs: Any, name: str) -> Iterable[dict[str, Any]]:
    """Each message as `SendMessage` takes it back: body and message attributes."""
    queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=_RECEIVE,
            VisibilityTimeout=_HIDDEN_SECONDS,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return
        for message in received:
            saved: dict[str, Any] = {"MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                saved["MessageAttributes"] = message["MessageAttributes"]
            yield saved


def _items(dynamodb: Any, table: str) -> Iterable[dict[str, Any]]:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        yield from page.get("Items", [])
