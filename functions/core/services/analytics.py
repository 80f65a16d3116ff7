"""Storing what evaluation emitted: an SQS message body (a pack of events, or the seed's
one bare event) into the analytics table.

One unreadable event does not sink its pack: the others are stored and it is reported.
A body with nothing readable is refused (400), so after its redeliveries the queue
moves it to the dead-letter queue instead of retrying it forever.
"""

from __future__ import annotations

import logging

from functions.core.errors import BadRequest
from functions.core.events.schema import InvalidEventBody, parse_body
from functions.core.models.analytics import Receipt
from functions.core.stores.analytics import AnalyticsStore

log = logging.getLogger(__name__)


class AnalyticsService:
    def __init__(self, *, store: AnalyticsStore) -> None:
        self._store = store

    def receive(self, body: bytes | str, *, delivery_id: str) -> Receipt:
        try:
            parsed = parse_body(body)
        except InvalidEventBody as exc:
            log.error("event body refused", extra={"ce_id": delivery_id, "problem": str(exc)[:500]})
            raise BadRequest(f"not an evaluation event or pack: {str(exc)[:500]}") from None
        if parsed.refused:
            log.error(
                "events refused from a pack; the rest are stored",
                extra={
                    "pack_id": parsed.pack_id,
                    "refused": len(parsed.refused),
                    "problems": parsed.refused[:5],
                },
            )
        self._store.put_events(parsed.events, pack_id=parsed.pack_id)
        return Receipt(
            stored=len(parsed.events), refused=len(parsed.refused), pack_id=parsed.pack_id
        )
