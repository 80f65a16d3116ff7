"""The `ToggleMasterAnalytics` DynamoDB table: one raw item per event, owned by analytics.

Items are keyed by `event_id` and written with `attribute_not_exists(event_id)`: a
redelivered pack finds its items there and changes none of them, whoever sends it.
They carry the seed's attributes (`event_id, user_id, flag_name, result, timestamp`),
the optional new ones, and `expires_at`, the event's time plus the retention, for
DynamoDB's TTL.

A write DynamoDB does not take (outage, throttling beyond the client's retries) is
`ServiceUnavailable`: the message is not acknowledged, and the queue delivers it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.core.errors import ServiceUnavailable
from functions.core.events.schema import EvaluationEvent

Item = dict[str, dict[str, Any]]
CONDITION = "attribute_not_exists(event_id)"


def to_item(
    event: EvaluationEvent, *, pack_id: str | None, moment: datetime, retention_days: int
) -> Item:
    item: Item = {
        "event_id": {"S": str(event.event_id)},
        "user_id": {"S": event.user_id},
        "flag_name": {"S": event.flag_name},
        "result": {"BOOL": event.result},
        "timestamp": {"S": event.timestamp},
        "expires_at": {"N": str(int(moment.timestamp()) + retention_days * 86_400)},
    }
    optional = {
        "environment": event.environment,
        "variant": event.variant,
        "reason": event.reason,
        "request_id": event.request_id,
        "pack_id": pack_id,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value})
    return item


@dataclass(frozen=True, slots=True)
class RawWrites:
    written: int
    """Items that were not there."""
    present: int
    """Items a previous delivery had written (left as they were)."""


class RawEventStore:
    def __init__(self, *, client: Any, table: str, writers: int) -> None:
        self._client = client
        self._table = table
        self._pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="raw-events")

    def put_new(self, items: Sequence[Item]) -> RawWrites:
        """Write each item unless one with its `event_id` exists, side by side; raise
        ServiceUnavailable when any write failed (the others stay: a redelivery skips
        them)."""
        outcomes = list(self._pool.map(self._put, items))
        failures = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        if failures:
            raise ServiceUnavailable(
                f"{len(failures)} of {len(items)} events not stored:"
                f" {failures[0].__class__.__name__}",
                dependency="dynamodb",
            ) from failures[0]
        written = sum(1 for outcome in outcomes if outcome is True)
        return RawWrites(written=written, present=len(items) - written)

    def _put(self, item: Item) -> bool | Exception:
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression=CONDITION)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            failure: Exception = exc
            return failure
        except BotoCoreError as exc:
            failure = exc
            return failure
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True)
