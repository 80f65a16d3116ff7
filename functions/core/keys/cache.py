"""Validated API keys, shared by every function so that a protected request does not
ask the auth function each time.

Three layers, nearest first:

1. in-process: key hash → `Grant` (or the `Refusal` auth gave), one dict per process;
2. Redis: `tm:keys:grant:<hash>` → the grant as JSON. Only auth writes it, right after
   it validated the key against its table; it lives until the key expires and at most
   `publishing.ENTRY_TTL_SECONDS`;
3. auth's `GET /validate` (see `keys.client`), which fills layer 2 as a side effect.

Propagation. A revocation, rotation or bootstrap retirement is announced by auth
*inside its database transaction, before the commit*: it bumps `tm:keys:version`,
deletes the key's Redis entry and publishes the key id on `tm:keys:changes`, in one
MULTI. If Redis refuses, auth rolls the change back and answers 503, so a change
reported done never leaves a grant behind that contradicts it (a notice for a change
that then fails to commit costs only a refetch). Each process subscribes with one
thread; any notice empties its in-process layer (changes are rare; refilling costs one
Redis GET per key). A grant is only stored if nothing changed while it was fetched:
auth reads the version, then the key's row `FOR SHARE` (which waits for a change
announced but not yet committed, and then sees it), and stores the grant only if the
version is unchanged (atomically, in Redis); readers compare a local generation. So a
lookup racing a revocation cannot bring the revoked key back.

`publishing.ENTRY_TTL_SECONDS` is therefore not what makes a revocation take effect; it bounds
what no notice can reach, such as a Redis failover that lost the last writes
(replication is asynchronous) and with them a deletion. Two minutes costs one
`/validate` per key per two minutes across the fleet.

The 1 s bound. The listener pings Redis on its subscription connection every 0.25 s;
a PONG proves every notice published before it has been handled. Entries are served
for up to `max_age` only while the last PONG is under `TRUST_WINDOW` old; otherwise
(Redis down or partitioned, no Redis at all, or a grant that came over HTTP) anything
older than `TRUST_WINDOW` is fetched again. Expiry needs no notice: every lookup
compares the grant's `expires_at` with the clock. Refusals are cached for `max_age`
whatever the listener's state: a revoked, expired or unknown key never becomes valid.

Usage. Processes note key id → time of last use in memory; the listener adds the
batch to the sorted set `tm:keys:last-used` (`ZADD GT`) every `usage_flush_seconds`,
and auth merges that set into `api_keys.last_used_at` when keys are listed or shown:
no write per request.

Hashes appear only in Redis key names and in memory: notices carry the key id, and
nothing here logs a key or a hash.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from functions.core.keys.publishing import note_usage
from functions.core.models.keys import Grant, Refusal
from functions.core.redis_keys import KEY_CHANGES_CHANNEL, KEY_GRANT_PREFIX

log = logging.getLogger(__name__)

TRUST_WINDOW = 0.75
"""Seconds an entry may be served without proof (a PONG) that no notice is pending."""
PING_INTERVAL = 0.25
_PING_MESSAGE = "tm-keys"


# -- the readers' side: every function ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Grant | Refusal
    generation: int
    stored_at: float
    durable: bool


class KeyCache:
    """The in-process layer, its Redis layer, and the notice listener behind them."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        max_age: float = 60.0,
        usage_flush_seconds: float = 2.0,
        max_entries: int = 50_000,
    ) -> None:
        self._redis = client
        self._max_age = max_age
        self._usage_flush_seconds = usage_flush_seconds
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._trusted_until = 0.0
        self._subscribed = False
        self._lock = threading.Lock()
        self._used: dict[int, float] = {}
        self._flushed_at = time.monotonic()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    @property
    def generation(self) -> int:
        """Read before a fetch, passed to `remember`: a notice in between voids the fetch."""
        return self._generation

    @property
    def listening(self) -> bool:
        return time.monotonic() < self._trusted_until

    def lookup(self, key_hash: str) -> Grant | Refusal | None:
        """The cached answer, or None when it must be fetched."""
        self._ensure_listener()
        entry = self._entries.get(key_hash)
        if entry is None or entry.generation != self._generation:
            return None
        now = time.monotonic()
        trusted = entry.durable and (isinstance(entry.value, Refusal) or now < self._trusted_until)
        if now - entry.stored_at > (self._max_age if trusted else TRUST_WINDOW):
            return None
        value = entry.value
        if isinstance(value, Grant) and value.expires_at is not None and value.expired(time.time()):
            return Refusal.expired(value.expires_at)
        return value

    def read_shared(self, key_hash: str) -> Grant | None:
        """The grant auth published in Redis, if any (None also when Redis is down)."""
        if self._redis is None:
            return None
        try:
            raw = self._redis.get(KEY_GRANT_PREFIX + key_hash)
        except redis.RedisError:
            return None
        return Grant.from_json(raw) if raw is not None else None

    def remember(
        self, key_hash: str, value: Grant | Refusal, *, generation: int, durable: bool
    ) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self._max_entries:
                self._entries = {}
            self._entries[key_hash] = _Entry(value, generation, time.monotonic(), durable)

    def note_use(self, key_id: int) -> None:
        self._used[key_id] = time.time()

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {}

    def close(self) -> None:
        self._stop.set()

    # -- the listener ------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self._listener is not None or self._redis is None:
            return
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=_listen,
                    args=(weakref.ref(self), self._redis, self._stop),
                    name="key-notices",
                    daemon=True,
                )
                self._listener.start()

    def _on_message(self, message: Mapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self._subscribed = True
            self.invalidate()  # notices may have been missed while not subscribed
        elif kind == "pong" and self._subscribed:
            self._trusted_until = time.monotonic() + TRUST_WINDOW
        elif kind == "message":
            self.invalidate()

    def _lost(self) -> None:
        self._subscribed = False
        self._trusted_until = 0.0
        self.invalidate()

    def _flush_usage(self, now: float) -> None:
        if now - self._flushed_at < self._usage_flush_seconds or self._redis is None:
            return
        self._flushed_at = now
        batch, self._used = self._used, {}
        try:
            note_usage(self._redis, batch)
        except redis.RedisError:
            for key_id, at in batch.items():
                self._used[key_id] = max(at, self._used.get(key_id, 0.0))
            raise


def _listen(ref: weakref.ref[KeyCache], client: redis.Redis, stop: threading.Event) -> None:
    """Runs until `stop` is set or the cache is garbage: it never holds the cache between
    two steps, so dropping the last reference to it ends the thread."""
    backoff = 0.1
    warned = False
    while not stop.is_set():
        pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(KEY_CHANGES_CHANNEL)
            next_ping = 0.0
            while not stop.is_set():
                cache = ref()
                if cache is None:
                    return
                now = time.monotonic()
                if now >= next_ping and cache._subscribed:
                    pubsub.ping(_PING_MESSAGE)
                    next_ping = now + PING_INTERVAL
                cache._flush_usage(now)
                del cache
                message = pubsub.get_message(timeout=PING_INTERVAL / 2)
                if message is not None:
                    cache = ref()
                    if cache is None:
                        return
                    cache._on_message(message)
                    del cache
                    backoff, warned = 0.1, False
        except Exception as exc:  # a listener that dies would leave caches trusted by no one
            cache = ref()
            if cache is None:
                return
            cache._lost()
            del cache
            if not warned:
                log.warning(
                    "key change notices unavailable; cached keys are re-checked every second",
                    extra={"error": exc.__class__.__name__},
                )
                warned = True
            stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)
        finally:
            with contextlib.suppress(redis.RedisError, OSError):
                pubsub.close()
