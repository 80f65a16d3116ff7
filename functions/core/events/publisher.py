"""Events leave the hot path through a bounded in-process buffer, packed.

`publish` never blocks on the network: it appends to a deque. A background thread
sends packs of up to SQS's 256 KiB at least every flush interval; a failed send
keeps the events for the next try (seed report §1.9), logging the outage once and
counting what the bound forced it to drop.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from functions.core.events.schema import SQS_MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

Sender = Callable[[str], None]
_PACK_OVERHEAD = 80


class EventPublisher:
    def __init__(
        self,
        send: Sender,
        *,
        capacity: int = 10_000,
        flush_seconds: float = 1.0,
        max_bytes: int = SQS_MAX_MESSAGE_BYTES,
    ) -> None:
        self._send = send
        self._buffer: deque[str] = deque()
        self._capacity = capacity
        self._flush_seconds = flush_seconds
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.dropped = 0
        self.sent_events = 0
        self.sent_messages = 0

    def publish(self, event: dict[str, Any]) -> None:
        encoded = json.dumps(event, separators=(",", ":"))
        with self._lock:
            if len(self._buffer) >= self._capacity:
                self._buffer.popleft()
                self.dropped += 1
            self._buffer.append(encoded)
            if self._thread is None:
                self._start()
            if len(self._buffer) >= 1000:
                self._wake.set()

    def pending(self) -> int:
        return len(self._buffer)

    def flush(self) -> bool:
        """Send everything buffered now; False when a send failed (events kept)."""
        with self._send_lock:
            while True:
                pack = self._take_pack()
                if not pack:
                    return True
                body = f'{{"pack_id":"{uuid.uuid4()}","events":[{",".join(pack)}]}}'
                try:
                    self._send(body)
                except Exception as exc:
                    self._put_back(pack)
                    if not self._failing:
                        log.error(
                            "event delivery failing; events are kept and retried",
                            extra={"error": str(exc), "buffered": len(self._buffer)},
                        )
                    self._failing = True
                    return False
                if self._failing:
                    log.info("event delivery recovered", extra={"buffered": len(self._buffer)})
                self._failing = False
                self.sent_events += len(pack)
                self.sent_messages += 1

    def close(self) -> None:
        """Stop the thread and make a last attempt to send (SIGTERM, exit)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event-publisher", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            if not self.flush():
                self._stopped.wait(min(self._flush_seconds * 2, 5))

    def _take_pack(self) -> list[str]:
        pack: list[str] = []
        size = _PACK_OVERHEAD
        with self._lock:
            while self._buffer:
                cost = len(self._buffer[0].encode()) + 1
                if pack and size + cost > self._max_bytes:
                    break
                pack.append(self._buffer.popleft())
                size += cost
        return pack

    def _put_back(self, pack: list[str]) -> None:
        with self._lock:
            room = self._capacity - len(self._buffer)
            kept = pack[-room:] if room > 0 else []
            self.dropped += len(pack) - len(kept)
            self._buffer.extendleft(reversed(kept))


def sqs_sender(client: Any, queue_url: str) -> Sender:
    def send(body: str) -> None:
        client.send_message(QueueUrl=queue_url, MessageBody=body)

    return send
