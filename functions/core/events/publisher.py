"""Events leave the hot path through a bounded in-process buffer, packed (DESIGN.md §4).

The request path only appends: `publish_evaluation` puts the decision's fields and
`time.time()` in a deque under a lock held for a few hundred nanoseconds (about 1 µs
in all). Everything that costs — the JSON, the compression, the network — happens on
a sender thread, which:

- packs events into SQS messages of up to 256 KiB, compressed and signed
  (`events.packs`), as rows: each queued tuple as it is, a chunk of them encoded by
  one `orjson.dumps` call; analytics makes each row's event id and timestamp text.
  Sending costs about 1 µs of CPU an event in all (JSON about 0.15, zlib about 0.3,
  the rest taking events off the buffer and pausing between chunks), against about
  3.5 µs when each event was written as a JSON object in Python: CPU taken from the
  request path, which shares the GIL and the cores. It sends as soon as a full
  message is buffered, and whatever is there at least every `flush_seconds`. A full
  message carries `packs.MAX_EVENTS` (4 096) events compressed into 50 to 80 KiB
  (12 to 20 bytes an event, as varied as user ids are), 1 or 2 billed SQS requests
  (SQS bills per 64 KiB), so under load it costs about 0.05 requests per 100 events.
  How much raw JSON fits in a message is learnt from the packs sealed so far; a pack
  that comes out too large after all is split;
- encodes in chunks of at most `CHUNK_EVENTS`, pausing between them: under an ASGI
  server the request handler shares the GIL with this thread, and a flush encoded in
  one stretch would show up in its p99. A value orjson refuses (a lone surrogate in a
  string) costs its chunk an encoding row by row, and only its own event: dropped,
  counted and logged;
- keeps a pack whose send failed, unchanged (same `pack_id`, same event ids: if SQS
  took it after all, a retry is a redelivery, which analytics absorbs) and retries it
  with capped, jittered exponential backoff; the outage is logged once, shown by
  `stats()` and the `togglemaster_event_delivery_failing` gauge, and its events counted
  at each failed attempt (`togglemaster_events_failed_total`) (seed report §1.9).

At most `capacity` events wait; beyond, the oldest waiting event is dropped, counted
(`stats()`, `togglemaster_events_dropped_total`) and reported by a log line at most
once per `drop_log_seconds`, with the count since the last one. The one pack that
was taken for sending is not dropped: it is kept whole until SQS accepts it.

`close()` sends what is buffered within a bounded time: the HTTP layer calls it on
shutdown (SIGTERM); an `atexit` hook covers servers that exit without one.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import random
import sys
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from functions.core import metrics as process_metrics
from functions.core.events import packs
from functions.core.events.relay import RelayError
from functions.core.events.schema import SQS_MAX_MESSAGE_BYTES, new_id_prefix
from functions.core.keys.signing import Signer
from functions.core.logs import correlation_id

log = logging.getLogger(__name__)

Sender = Callable[[str], None]
"""Sends one SQS message body; raises when it was not accepted."""

CHUNK_EVENTS = 200
"""Events encoded in one stretch before the sender lets other threads run."""
YIELD_SECONDS = 0.0001
"""The pause between chunks: long enough that a thread waiting for the GIL gets it."""
SQS_BILLING_CHUNK_BYTES = 65_536
_PACK_OVERHEAD = len('{"pack_id":"","count":4096,"events_zlib":"","signature":""}') + 36 + 64
_MAX_RATIO = 32.0
"""Raw JSON bytes per sent byte assumed at most, however well the last pack compressed."""
_HEADROOM = 0.8
"""The share of a message the next pack is planned to fill: the next events may
compress less well than the last ones."""
_TYPICAL_EVENT_BYTES = 64
"""A first guess at a row's JSON, on the low side (about 90 bytes is typical): a pack
then fills up (what does not fit waits)."""

_Evaluation = tuple[int, float, str, str, bool, str | None, str | None, str | None, str | None]
"""(sequence, time.time(), user_id, flag_name, result, environment, variant, reason,
request id): a row of the pack as it is, laid out as `packs.ROWS_COLUMNS`."""

_time = time.time
_pause = time.sleep


def billed_requests(size: int) -> int:
    """What SQS bills for one message of `size` bytes: one request per started 64 KiB."""
    return max(1, math.ceil(size / SQS_BILLING_CHUNK_BYTES))


@dataclass(frozen=True, slots=True)
class _Pack:
    pack_id: str
    body: str
    events: int

    @property
    def billed(self) -> int:
        return billed_requests(len(self.body))


class Backoff:
    """Capped exponential backoff with equal jitter: the n-th consecutive failure waits
    between half and all of min(cap, base × 2^(n-1)), so replicas that failed together
    do not retry together."""

    def __init__(self, base: float, cap: float, rand: Callable[[], float] = random.random) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rand = rand

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        ceiling: float = min(self.cap, self.base * 2.0 ** min(self.failures - 1, 32))
        return ceiling / 2 + self._rand() * ceiling / 2

    def succeeded(self) -> None:
        self.failures = 0


class EventPublisher:
    def __init__(
        self,
        send: Sender,
        *,
        capacity: int = 10_000,
        flush_seconds: float = 1.0,
        max_bytes: int = SQS_MAX_MESSAGE_BYTES,
        signer: Signer | None = None,
        retry_base_seconds: float = 0.5,
        retry_cap_seconds: float = 30.0,
        drop_log_seconds: float = 10.0,
        close_timeout_seconds: float = 5.0,
        metrics: process_metrics.Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        background: bool = True,
        via: str = "sqs",
    ) -> None:
        """`background=False` starts no sender thread: the caller drives `step()` (tests,
        with a fake `clock`); `via`: how `send` reaches SQS, for `stats()` (`sqs`
        itself, or the server's main process, `relay`)."""
        self._send = send
        self._via = via
        self._capacity = capacity
        self._flush_seconds = flush_seconds
        self._max_bytes = max_bytes
        self._signer = signer
        self._drop_log_seconds = drop_log_seconds
        self._close_timeout = close_timeout_seconds
        self._metrics = metrics or process_metrics.current()
        self._clock = clock
        self._background = background
        self._backoff = Backoff(retry_base_seconds, retry_cap_seconds, rand)

        # Shared with the request path, under _lock.
        self._lock = threading.Lock()
        self._incoming: deque[_Evaluation] = deque()
        self._sequence = 0
        """Events published so far: the last one's sequence number."""
        self._dropped = 0
        self._held = 0
        """Events out of `_incoming` that the sender owns: being encoded, or in `_pack`."""
        self._sent_events = 0
        self._failed_events = 0
        """Events in sends that failed, counted at each failed attempt."""
        self._sent_messages = 0
        self._billed = 0
        self._event_bytes: float = _TYPICAL_EVENT_BYTES
        """JSON bytes per row, as the last pack came out."""
        self._ratio = 1.0
        """Raw JSON bytes per byte of sealed message, as the last pack came out."""
        self._wake_at = self._threshold()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()

        # The sender's own, under _send_lock.
        self._send_lock = threading.Lock()
        self._new_producer_id()
        self._pack: _Pack | None = None
        self._flush_at = clock() + flush_seconds
        self._retry_at = 0.0
        self._failing_since: float | None = None
        self._last_error: str | None = None

        self._drops_logged = 0
        self._next_drop_log = 0.0
        self._report_lock = threading.Lock()
        self._reported = (0, 0, 0, 0, 0)
        self._metrics.before_flush(self._report)
        _publishers.add(self)

    # -- the request path ---------------------------------------------------------------

    def publish_evaluation(
        self,
        user_id: str,
        flag_name: str,
        result: bool,
        environment: str | None,
        variant: str | None,
        reason: str | None,
    ) -> None:
        """Queue one decision's event; its JSON is made on the sender, its id and timestamp
        text by the reader. The event carries the request's correlation id
        (`X-Request-Id`), if any.

        Never blocks on I/O and never raises for a full buffer.
        """
        now = _time()
        request_id = correlation_id.get()
        with self._lock:
            sequence = self._sequence = self._sequence + 1
            incoming = self._incoming
            if len(incoming) >= self._capacity:
                incoming.popleft()
                self._dropped += 1
            incoming.append(
                (
                    sequence,
                    now,
                    user_id,
                    flag_name,
                    result,
                    environment,
                    variant,
                    reason,
                    request_id,
                )
            )
            waiting = len(incoming)
            if self._thread is None and self._background:
                self._start()
        if waiting >= self._wake_at and not self._wake.is_set():
            self._wake.set()

    # -- what others read -----------------------------------------------------------------

    def pending(self) -> int:
        """Events not yet accepted by SQS (waiting, being packed, or a pack to retry)."""
        with self._lock:
            return len(self._incoming) + self._held

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def sent_events(self) -> int:
        return self._sent_events

    @property
    def sent_messages(self) -> int:
        return self._sent_messages

    @property
    def billed_requests(self) -> int:
        return self._billed

    def stats(self) -> dict[str, Any]:
        """For `/ready`: counts since start, and whether delivery is failing now."""
        with self._lock:
            numbers = {
                "buffered": len(self._incoming) + self._held,
                "capacity": self._capacity,
                "published": self._sequence,
                "dropped": self._dropped,
                "sent": self._sent_events,
                "failed": self._failed_events,
                "sqs_messages": self._sent_messages,
                "sqs_billed_requests": self._billed,
            }
        failing_since = self._failing_since
        return {
            **numbers,
            "via": self._via,
            "delivery_failing": failing_since is not None,
            "failing_for_seconds": (
                None if failing_since is None else round(self._clock() - failing_since, 3)
            ),
            "last_error": self._last_error,
        }

    # -- sending ----------------------------------------------------------------------------

    def step(self) -> None:
        """One round of the sender: full packs now, everything when the interval is up,
        nothing while backing off after a failure. The sender thread calls it; tests
        with `background=False` call it themselves."""
        now = self._clock()
        self._log_drops(now)
        if now >= self._retry_at:
            due = now >= self._flush_at
            with self._send_lock:
                ok = self._send_ready(everything=due)
            if due and ok:
                self._flush_at = self._clock() + self._flush_seconds
        self._report()

    def flush(self) -> bool:
        """Send everything buffered now, backoff or not; False when a send failed (the
        events are kept for the next attempt)."""
        with self._send_lock:
            ok = self._send_ready(everything=True)
        if ok:
            self._flush_at = self._clock() + self._flush_seconds
        self._report()
        return ok

    def close(self, timeout: float | None = None) -> bool:
        """Stop the sender and send what is buffered, within `timeout` seconds (default
        `close_timeout_seconds`): for SIGTERM, exit and tests. True when nothing is left.

        Safe to call more than once; events published afterwards are kept for the next
        call. A send that hangs past the deadline is left behind, not waited for.
        """
        limit = self._close_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.pending():
            self._flush_before(deadline)
        self._log_drops(self._clock(), force=True)
        left = self.pending()
        if left:
            log.error(
                "events not delivered at shutdown",
                extra={"events": left, "error": self._last_error, "timeout_seconds": limit},
            )
        self._report()
        return left == 0

    def _flush_before(self, deadline: float) -> None:
        """Send everything on a thread of its own, waiting for it until `deadline` only:
        a send can hang longer than any timeout we were given."""
        try:
            finisher = threading.Thread(
                target=self._final_flush,
                args=(deadline,),
                name="event-publisher-close",
                daemon=True,
            )
            finisher.start()
        except RuntimeError:  # no new threads at interpreter shutdown
            self._final_flush(deadline)
        else:
            finisher.join(max(0.0, deadline - time.monotonic()))

    def _final_flush(self, deadline: float) -> None:
        if not self._send_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            self._send_ready(everything=True, deadline=deadline)
        finally:
            self._send_lock.release()

    def _send_ready(self, *, everything: bool, deadline: float = math.inf) -> bool:
        """Send the pack to retry, then full packs (or all packs when `everything`).
        Holds _send_lock. False at the first failed send."""
        with self._lock:
            # "Everything" is what waits now: events arriving meanwhile wait for a full
            # pack or the next interval, or a steady stream would go out as a stream of
            # small messages, each one sent as soon as the previous one returned.
            due = len(self._incoming) if everything else 0
        while time.monotonic() < deadline:
            retried = self._pack is not None  # held from before: not among those waiting
            if self._pack is None:
                with self._lock:
                    waiting = len(self._incoming)
                if waiting == 0 or (due <= 0 and waiting < self._wake_at):
                    return True
                self._pack = self._make_pack()
                if self._pack is None:
                    return True
            if not self._deliver(self._pack):
                return False
            if not retried:
                due -= self._pack.events
            self._pack = None
        return False

    def _make_pack(self) -> _Pack | None:
        """Take the oldest events that fit in one message, encoding them a chunk at a
        time (one `orjson.dumps` a chunk), and seal them as rows. The chunk that
        overshoots is encoded row by row to fill the pack exactly; what does not fit
        goes back, oldest first."""
        budget = self._raw_budget()
        taken: list[_Evaluation] = []
        parts: list[bytes] = []  # runs of rows, comma-separated, as the payload holds them
        empty = size = len(self._rows_head) + 3  # `head[` and `]}`; a comma counted per part
        unsendable = 0
        full = False
        while not full and len(taken) < packs.MAX_EVENTS:
            average = (size - empty) / len(taken) if taken else self._event_bytes
            want = max(
                1,
                min(CHUNK_EVENTS, packs.MAX_EVENTS - len(taken), int((budget - size) / average)),
            )
            with self._lock:
                count = min(want, len(self._incoming))
                chunk = [self._incoming.popleft() for _ in range(count)]
                self._held += count
            if not chunk:
                break
            rows = _encode(chunk)
            if rows is not None and size + len(rows) - 1 <= budget:
                parts.append(rows[1:-1])
                taken += chunk
                size += len(rows) - 1
            else:
                for index, item in enumerate(chunk):
                    row = _encode(item, alone=True)
                    if row is None:
                        unsendable += 1
                        continue
                    if size + len(row) + 1 <= budget:
                        parts.append(row)
                        taken.append(item)
                        size += len(row) + 1
                    elif taken:
                        self._put_back(chunk[index:])
                        full = True
                        break
                    else:
                        unsendable += 1
            if not full and count == want:
                _pause(YIELD_SECONDS)
            elif count < want:
                break
        pack = self._seal(taken, parts, size) if taken else None
        if pack is None and taken:
            unsendable += len(taken)
        if unsendable:
            with self._lock:
                self._held -= unsendable
                self._dropped += unsendable
            log.error("events that cannot be sent were dropped", extra={"events": unsendable})
        if pack is not None and self._failing_since is None:
            self._wake_at = self._threshold()
        return pack

    def _seal(self, taken: list[_Evaluation], parts: list[bytes], size: int) -> _Pack | None:
        """The message of the rows `taken` (encoded as `parts`), halved (the rest put
        back) until it fits; None when not even one event fits."""
        head = self._rows_head
        self._event_bytes = (size - len(head) - 3) / len(taken)
        pack_id = str(uuid.uuid4())
        body = self._body(pack_id, len(taken), parts)
        while len(body) > self._max_bytes and len(taken) > 1:
            half = len(taken) // 2
            self._put_back(taken[half:])
            del taken[half:]
            rows = orjson.dumps(taken)  # each was encoded before: this one cannot fail
            parts = [rows[1:-1]]
            size = len(head) + len(rows) + 2  # as counted while packing
            body = self._body(pack_id, len(taken), parts)
        if len(body) > self._max_bytes:
            return None
        self._ratio = min(_MAX_RATIO, max(1.0, size / len(body)))
        return _Pack(pack_id, body, len(taken))

    def _body(self, pack_id: str, count: int, parts: list[bytes]) -> str:
        payload = b"".join((self._rows_head, b"[", b",".join(parts), b"]}"))
        return packs.seal_payload(pack_id, count, payload, self._signer)

    def _raw_budget(self) -> int:
        """Bytes of rows' JSON planned for the next message."""
        return int((self._max_bytes - _PACK_OVERHEAD) * self._ratio * _HEADROOM)

    def _put_back(self, items: list[_Evaluation]) -> None:
        """Return events taken for a pack they did not fit in, oldest first."""
        with self._lock:
            self._incoming.extendleft(reversed(items))
            self._held -= len(items)
            while len(self._incoming) > self._capacity:
                self._incoming.popleft()
                self._dropped += 1

    def _deliver(self, pack: _Pack) -> bool:
        try:
            self._send(pack.body)
        except Exception as exc:
            with self._lock:
                self._failed_events += pack.events
            self._failed(exc)
            return False
        with self._lock:
            self._held -= pack.events
            self._sent_events += pack.events
            self._sent_messages += 1
            self._billed += pack.billed
        if self._failing_since is not None:
            log.info(
                "event delivery recovered",
                extra={
                    "failed_for_seconds": round(self._clock() - self._failing_since, 3),
                    "buffered": self.pending(),
                },
            )
        self._failing_since = None
        self._last_error = None
        self._retry_at = 0.0
        self._backoff.succeeded()
        self._wake_at = self._threshold()
        return True

    def _failed(self, exc: Exception) -> None:
        now = self._clock()
        delay = self._backoff.failed()
        self._retry_at = now + delay
        self._wake_at = sys.maxsize  # while backing off, a full buffer must not wake us
        kind = exc.kind if isinstance(exc, RelayError) else exc.__class__.__name__
        self._last_error = kind
        if self._failing_since is None:
            self._failing_since = now
            log.error(
                "event delivery failing; events are kept and retried",
                extra={
                    "error": f"{kind}: {str(exc)[:300]}",
                    "buffered": self.pending(),
                    "retry_in_seconds": round(delay, 3),
                },
            )

    def _threshold(self) -> int:
        """Events that make a full message (and so wake the sender), but never more
        than half the buffer, so a small buffer is emptied before it overflows."""
        per_pack = min(packs.MAX_EVENTS, int(self._raw_budget() / max(self._event_bytes, 1.0)))
        return max(1, min(per_pack, self._capacity // 2))

    # -- the sender thread ------------------------------------------------------------------

    def _start(self) -> None:
        """Under _lock, on the first event (so in the worker process that publishes)."""
        self._thread = threading.Thread(target=self._run, name="event-publisher", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stopped.is_set():
            now = self._clock()
            target = max(self._flush_at, self._retry_at)
            self._wake.wait(min(max(target - now, 0.0), self._flush_seconds))
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                self.step()
            except Exception:
                log.exception("the event sender failed a round; it carries on")
                self._stopped.wait(self._flush_seconds)

    def _log_drops(self, now: float, *, force: bool = False) -> None:
        dropped = self._dropped
        if dropped > self._drops_logged and (force or now >= self._next_drop_log):
            log.warning(
                "event buffer full: the oldest events were dropped",
                extra={
                    "dropped": dropped - self._drops_logged,
                    "dropped_total": dropped,
                    "capacity": self._capacity,
                },
            )
            self._drops_logged = dropped
            self._next_drop_log = now + self._drop_log_seconds

    def _report(self) -> None:
        """Bring the metrics up to date (sender rounds, and before each scrape)."""
        with self._lock:
            totals = (
                self._sequence,
                self._dropped,
                self._sent_events,
                self._billed,
                self._failed_events,
            )
            buffered = len(self._incoming) + self._held
        with self._report_lock:
            published, dropped, sent, billed, failed = (
                now - before for now, before in zip(totals, self._reported, strict=True)
            )
            self._reported = totals
            m = self._metrics
            if published:
                m.events_published.inc(published)
            if dropped:
                m.events_dropped.inc(dropped)
            if sent:
                m.events_sent.inc(sent)
            if billed:
                m.sqs_requests.inc(billed)
            if failed:
                m.events_failed.inc(failed)
            m.events_buffered.set(buffered)
            m.event_delivery_failing.set(0 if self._failing_since is None else 1)

    def _after_fork(self) -> None:
        """In a forked child: the parent keeps and sends its events; start empty."""
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._incoming = deque()
        self._held = 0
        self._pack = None
        self._thread = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._new_producer_id()

    def _new_producer_id(self) -> None:
        """The prefix of this process's event ids, and the head of its rows payloads."""
        self._id_prefix = new_id_prefix()
        self._rows_head = packs.rows_head(self._id_prefix)


def _encode(rows: Sequence[object], *, alone: bool = False) -> bytes | None:
    """A list of rows, or one row (`alone`), as JSON; None when orjson refuses a value
    in it (logged for a row alone: its event is dropped)."""
    try:
        return orjson.dumps(rows)
    except TypeError as exc:  # orjson.JSONEncodeError
        if alone:
            log.error("an event could not be encoded", extra={"error": str(exc)[:200]})
        return None


_publishers: weakref.WeakSet[EventPublisher] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for publisher in list(_publishers):
        publisher._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def sqs_sender(client: Any, queue_url: str) -> Sender:
    def send(body: str) -> None:
        client.send_message(QueueUrl=queue_url, MessageBody=body)

    return send
