"""The `ToggleMasterAnalytics` DynamoDB table, owned by the analytics function.

Items are keyed by `event_id`, so a redelivered message rewrites the same items
instead of adding new ones. A write DynamoDB does not take is `ServiceUnavailable`:
the message is not acknowledged, and the queue delivers it again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.core.errors import ServiceUnavailable
from functions.core.events.schema import EvaluationEvent

_BATCH = 25


def to_item(event: EvaluationEvent, *, pack_id: str | None) -> dict[str, dict[str, Any]]:
    item: dict[str, dict[str, Any]] = {
        "event_id": {"S": str(event.event_id)},
        "user_id": {"S": event.user_id},
        "flag_name": {"S": event.flag_name},
        "result": {"BOOL": event.result},
        "timestamp": {"S": event.timestamp},
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


class AnalyticsStore:
    def __init__(self, *, client: Any, table: str, max_attempts: int = 6) -> None:
        self._client = client
        self._table = table
        self._max_attempts = max_attempts

    def put_events(self, events: Sequence[EvaluationEvent], *, pack_id: str | None) -> None:
        """Write every event, retrying throttled leftovers; raise if some still fail."""
        unique = {event.event_id: event for event in events}
        items = [to_item(event, pack_id=pack_id) for event in unique.values()]
        for start in range(0, len(items), _BATCH):
            requests: list[dict[str, Any]] = [
                {"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]
            ]
            self._write(requests)

    def _write(self, requests: list[dict[str, Any]]) -> None:
        for attempt in range(self._max_attempts):
            try:
                answer = self._client.batch_write_item(RequestItems={self._table: requests})
            except (BotoCoreError, ClientError) as exc:
                raise ServiceUnavailable(
                    f"events not stored: {exc.__class__.__name__}", dependency="dynamodb"
                ) from exc
            requests = answer.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise ServiceUnavailable(
            f"events not stored: {len(requests)} still unprocessed after retries",
            dependency="dynamodb",
        )
