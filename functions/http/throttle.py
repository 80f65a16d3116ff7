"""Rate limits per client: failed authentications on every function, and every request
to auth's `/admin/*`. Over a limit, the answer is 429 with `Retry-After` and a JSON error
(`code: "rate_limited"`, `retry_after`).

A limit counts events per client in fixed windows (`limit` per `window_seconds`). The
count is shared by every process through Redis without a Redis call on any request: a
request only touches this process's memory, and a thread adds the process's new events
to `tm:limits:<name>:<window>:<client>` (INCRBY) every `FLUSH_SECONDS`, and reads the
totals of the `REFRESHED_CLIENTS` clients it saw most recently in this window, so each
process knows what all of them counted within about `FLUSH_SECONDS`; a process that has
seen no event from a client lets at most one through before it knows. With Redis down
each process counts alone. Memory is bounded: at most `MAX_CLIENTS` clients are
tracked, the least recently seen forgotten first (never all at once).

The client is the peer address; behind proxies listed in `TRUSTED_PROXIES` (addresses or
networks), it is the nearest address in `X-Forwarded-For` that is not one of them, read
from the right (what the first trusted proxy appended), so an address a client writes
into the header itself is never taken for its own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from functions.core.adapters.redis_clients import redis_client
from functions.core.errors import Forbidden, TooManyRequests, Unauthorized
from functions.core.redis_keys import RATE_LIMIT_PREFIX
from functions.core.settings import proxy_networks
from functions.http.messages import Request

log = logging.getLogger(__name__)

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_CLIENTS = 100_000
FLUSH_SECONDS = 0.1
REFRESHED_CLIENTS = 200
MAX_CLIENT_LENGTH = 64


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """Who sent `request`: the peer, or behind trusted proxies the address they saw."""
    peer = request.client or "unknown"
    if not trusted or not _within(peer, trusted):
        return peer
    forwarded = request.headers.get("x-forwarded-for")
    hops = [hop.strip() for hop in (forwarded or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop[:MAX_CLIENT_LENGTH]
    return hops[0][:MAX_CLIENT_LENGTH] if hops else peer


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


@dataclass(slots=True)
class _Count:
    window: int
    local: int = 0
    unflushed: int = 0
    shared: int = 0

    @property
    def total(self) -> int:
        return max(self.local, self.shared + self.unflushed)


class Throttle:
    """One limit (`limit` events per `window_seconds` per client; 0: no limit)."""

    def __init__(
        self,
        name: str,
        *,
        limit: int,
        window_seconds: int,
        message: str,
        redis_url: str | None = None,
        trusted_proxies: str = "",
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.name = name
        self.limit = limit
        self.window_seconds = window_seconds
        self._message = message
        self._redis_url = redis_url
        self._trusted = proxy_networks(trusted_proxies)
        self._max_clients = max_clients
        self._counts: OrderedDict[str, _Count] = OrderedDict()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._flusher_pid: int | None = None
        self._redis_failing = False

    def client(self, request: Request) -> str:
        return client_address(request, self._trusted)

    def check(self, request: Request) -> None:
        """429 if the client has used up its limit in this window (nothing is counted)."""
        if not self.limit:
            return
        client = self.client(request)
        now = time.time()
        with self._lock:
            count = self._current(client, now)
            total = count.total
        if total >= self.limit:
            self._refuse(now)

    def count(self, request: Request) -> None:
        """Count one event from the client; 429 if that takes it over the limit."""
        if not self.limit:
            return
        client = self.client(request)
        now = time.time()
        with self._lock:
            count = self._current(client, now)
            count.local += 1
            count.unflushed += 1
            total = count.total
            if self._redis_url:
                self._pending.add(client)
        if self._redis_url:
            self._ensure_flusher()
        if total > self.limit:
            self._refuse(now)

    def tracked(self) -> int:
        return len(self._counts)

    def _current(self, client: str, now: float) -> _Count:
        window = int(now // self.window_seconds)
        count = self._counts.get(client)
        if count is None or count.window != window:
            count = self._counts[client] = _Count(window)
            while len(self._counts) > self._max_clients:
                forgotten, _ = self._counts.popitem(last=False)
                self._pending.discard(forgotten)
        self._counts.move_to_end(client)
        return count

    def _refuse(self, now: float) -> None:
        ends = (int(now // self.window_seconds) + 1) * self.window_seconds
        retry_after = max(1, math.ceil(ends - now))
        raise TooManyRequests(
            f"{self._message}: at most {self.limit} per {self.window_seconds} s per client;"
            f" retry in {retry_after} s",
            retry_after=retry_after,
            limit=self.limit,
            window_seconds=self.window_seconds,
        )

    # -- sharing through Redis -------------------------------------------------------

    def _ensure_flusher(self) -> None:
        if self._flusher_pid == os.getpid():
            return
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
        threading.Thread(target=self._flush_loop, name=f"throttle-{self.name}", daemon=True).start()

    def _flush_loop(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            with contextlib.suppress(Exception):
                self.flush()

    def flush(self) -> None:
        """Add this process's new events to the shared counts and learn their totals."""
        if not self._redis_url:
            return
        window_now = int(time.time() // self.window_seconds)
        with self._lock:
            recent: list[tuple[str, int, int]] = []
            for client in reversed(self._counts):
                held = self._counts[client]
                if held.window != window_now or len(recent) >= REFRESHED_CLIENTS:
                    break
                recent.append((client, held.window, held.unflushed))
            seen = {client for client, _, _ in recent}
            pending = [(client, self._counts.get(client)) for client in self._pending]
            batch = recent + [
                (client, held.window, held.unflushed)
                for client, held in pending
                if client not in seen and held is not None and held.unflushed
            ]
            self._pending.clear()
        if not batch:
            return
        import redis  # loaded here, not at start-up (`adapters.redis_clients`)

        try:
            pipe = redis_client(self._redis_url).pipeline(transaction=False)
            for client, window, added in batch:
                key = f"{RATE_LIMIT_PREFIX}{self.name}:{window}:{client}"
                pipe.incrby(key, added)
                pipe.expire(key, self.window_seconds * 2)
            results = pipe.execute()
        except redis.RedisError as exc:
            if not self._redis_failing:
                self._redis_failing = True
                log.warning(
                    "rate limits counted per process: Redis is unreachable",
                    extra={"limit": self.name, "error": exc.__class__.__name__},
                )
            return
        if self._redis_failing:
            self._redis_failing = False
            log.info("rate limits shared through Redis again", extra={"limit": self.name})
        with self._lock:
            for (client, window, added), total in zip(batch, results[::2], strict=True):
                found = self._counts.get(client)
                if found is not None and found.window == window:
                    found.unflushed -= added
                    found.shared = int(total)


def counting_failures(throttle: Throttle, request: Request, check: Callable[[], T]) -> T:
    """`check()`; a refused key (401, or auth's 403 on /admin) is counted against the
    client, and once over the limit answered 429 instead."""
    try:
        return check()
    except (Unauthorized, Forbidden) as exc:
        if isinstance(exc, Unauthorized) or exc.details.get("reason") is not None:
            throttle.count(request)
        raise


class FailureLimits(Protocol):
    """What a key-checking function's settings say of failed authentications
    (`settings.KeyChecks`)."""

    @property
    def auth_failure_limit(self) -> int: ...
    @property
    def auth_failure_window_seconds(self) -> int: ...
    @property
    def trusted_proxies(self) -> str: ...


def failure_throttle(config: FailureLimits, redis_url: str | None) -> Throttle:
    """The limit on failed authentications per client, as every key-checking function
    configures it."""
    return Throttle(
        "auth-failures",
        limit=config.auth_failure_limit,
        window_seconds=config.auth_failure_window_seconds,
        message="too many failed authentications from this client",
        redis_url=redis_url,
        trusted_proxies=config.trusted_proxies,
    )
