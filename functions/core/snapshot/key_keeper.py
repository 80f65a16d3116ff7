"""The keys flags and targeting hold, as evaluation holds them in its snapshot: every
usable key by its hash, read from auth's database (read only, `AUTH_DATABASE_URL`) and
kept current by the keys' change log, like evaluation's:

- signed key notices through Redis (`snapshot.notices`) apply a change within
  milliseconds;
- a version check in PostgreSQL every `check_seconds` catches up whatever no notice
  brought: Redis down, restarted, restored from older data, or written by someone who
  has no `GRANT_SECRET` (unsigned notices are ignored).

So a made-up key costs a SHA-256 and a dict miss: no call to auth, no query. A revoked
key is refused by every process within `check_seconds` plus one query of its commit,
whatever Redis does, as long as PostgreSQL answers (`REVOCATION_BOUND_SECONDS` with the
default period).

A key created a moment ago may reach a process a little after its creator got the
answer: on a miss, a process that is subscribed first makes sure it has handled every
notice published so far (a PING on its subscription: the PONG comes after them), a
wait of one Redis round trip, shared by concurrent misses, never a query.

Keys that exist but are retired (revoked, rotated out, expired) are known by hash too,
so their 401 says why: the reason is read from auth's database the first time and kept
(at most `MAX_REFUSALS`, the least recently used forgotten first; a retired key never
becomes usable again).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from functions.core.adapters.db import transaction
from functions.core.errors import ServiceUnavailable
from functions.core.keys.signing import Signer
from functions.core.mappers.keys import refusal
from functions.core.models.keys import REFUSED, Grant, Refusal
from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL
from functions.core.snapshot.notices import KEYS_SOURCE, parse_notice
from functions.core.snapshot.sources import KeySource, ReadOnlyDatabase
from functions.core.snapshot.state import EMPTY, Change, Snapshot, Version, with_all_keys
from functions.core.stores import key_changes
from functions.core.stores import keys as key_store

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

FIRST_LOAD_WAIT_SECONDS = 5.0
"""How long a request made while the keys first load waits for them."""
REVOCATION_BOUND_SECONDS = 1.0
"""A revocation reaches every process within this, with the default check period."""
MAX_REFUSALS = 10_000
SYNC_WAIT_SECONDS = 0.1
"""The longest a miss waits for the notices published before it."""
_POLL_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class _Held:
    keys: Snapshot
    """Only its keys are used: `keys` (the version), `grants` and `key_hashes`."""
    retired: frozenset[str]


class KeyKeeper:
    """One per process; `start` runs its two threads (again in a forked process)."""

    def __init__(
        self,
        *,
        auth_database_url: str,
        redis_factory: Callable[[], redis.Redis] | None,
        signer: Signer,
        check_seconds: float = 0.5,
        max_refusals: int = MAX_REFUSALS,
    ) -> None:
        self._auth_database_url = auth_database_url
        self._database = ReadOnlyDatabase(auth_database_url)
        self._source = KeySource(self._database)
        self._redis_factory = redis_factory
        self._signer = signer
        self._check_seconds = check_seconds
        self._max_refusals = max_refusals
        self._held = _Held(EMPTY, frozenset())
        self._refusals: OrderedDict[str, Refusal] = OrderedDict()
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pid: int | None = None
        self._sync = threading.Condition()
        self._sync_requested = 0
        self._sync_answered = 0
        self._subscribed = False
        self._postgres_failing = False

    # -- what requests ask ---------------------------------------------------------------

    def lookup(
        self, key_hash: str, now: float, *, before_waiting: Callable[[], None] | None = None
    ) -> Grant | Refusal:
        """The grant of a usable key, or why it is refused. Waits for the first load;
        `before_waiting` runs before a miss waits for the latest notices (a rate limit
        raises there)."""
        self.start()
        if not self._loaded.is_set() and not self._loaded.wait(FIRST_LOAD_WAIT_SECONDS):
            raise ServiceUnavailable(
                "the API keys are not loaded yet: auth's database (AUTH_DATABASE_URL) does"
                " not answer",
                dependency="auth database",
            )
        answer = self._answer(key_hash, now)
        if answer is REFUSED and self._subscribed:
            if before_waiting is not None:
                before_waiting()
            if self._synced():
                answer = self._answer(key_hash, now)
        return answer

    def _answer(self, key_hash: str, now: float) -> Grant | Refusal:
        held = self._held
        grant = held.keys.grants.get(key_hash)
        if grant is not None:
            if grant.expires_at is not None and grant.expired(now):
                return Refusal.expired(grant.expires_at)
            return grant
        if key_hash in held.retired:
            return self._why(key_hash)
        return REFUSED

    @property
    def version(self) -> Version:
        return self._held.keys.keys

    def status(self) -> dict[str, Any]:
        held = self._held
        return {
            "loaded": self._loaded.is_set(),
            "keys_version": held.keys.keys.version,
            "keys": len(held.keys.grants),
            "retired": len(held.retired),
            "notices": "subscribed" if self._subscribed else "down",
        }

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            if self._pid is not None:  # forked: the parent's connection is not ours
                self._database.forget()
                self._stop = threading.Event()
                self._wake = threading.Event()
                self._sync = threading.Condition()
            self._pid = os.getpid()
        threading.Thread(target=self._check_loop, name="key-checker", daemon=True).start()
        if self._redis_factory is not None:
            threading.Thread(target=self._listen_loop, name="key-notices", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._database.close()

    # -- the checker: PostgreSQL ---------------------------------------------------------

    def _check_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._loaded.is_set():
                    self.check()
                else:
                    self.load()
                if self._postgres_failing:
                    self._postgres_failing = False
                    log.info("auth database reachable again: keys checked")
            except ServiceUnavailable as exc:
                if not self._postgres_failing:
                    self._postgres_failing = True
                    log.warning(
                        "auth database unreachable: serving the keys held",
                        extra={"error": exc.message},
                    )
            except Exception:
                log.exception("key check failed")
            self._wake.wait(self._check_seconds)
            self._wake.clear()

    def load(self) -> None:
        """Every usable key and every retired key's hash, in one transaction."""

        def read(conn: psycopg.Connection[dict[str, Any]]) -> tuple[Any, set[str]]:
            return key_changes.load_all(conn), key_changes.retired_hashes(conn)

        (state, documents, _), retired = self._database.read(read)
        version = Version(state.epoch, state.version)
        with self._lock:
            self._held = _Held(
                with_all_keys(EMPTY, version, documents.values()), frozenset(retired)
            )
            self._refusals.clear()
        self._loaded.set()

    def check(self) -> None:
        """Compare with PostgreSQL's version; catch up what is missing."""
        newest = self._source.version()
        held = self.version
        if held.epoch == newest.epoch and held.version >= newest.version:
            return
        if held.epoch != newest.epoch:
            self.load()
            return
        delta = self._source.since(held.version)
        if delta.changes is None or delta.version.epoch != held.epoch:
            self.load()
            return
        self._apply(held, delta.version, delta.changes)

    def _apply(self, base: Version, new: Version, changes: Iterable[Change]) -> None:
        changes = list(changes)
        with self._lock:
            held = self._held
            if held.keys.keys != base:
                return  # moved meanwhile; the checker reconciles
            retired = set(held.retired)
            for change in changes:
                document = change.document
                if document is None:
                    continue
                key_hash = str(document.get("key_hash", ""))
                if document.get("active", False):
                    retired.discard(key_hash)
                else:
                    retired.add(key_hash)
                self._refusals.pop(key_hash, None)
            self._held = _Held(held.keys.with_keys(new, changes), frozenset(retired))

    # -- the listener: signed notices ----------------------------------------------------

    def _listen_loop(self) -> None:
        import redis  # loaded here, not at start-up (`adapters.redis_clients`)

        assert self._redis_factory is not None
        warned = False
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self._redis_factory().pubsub()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
                pubsub.subscribe(SNAPSHOT_CHANGES_CHANNEL)
                sent = 0
                while not self._stop.is_set():
                    wanted = self._sync_requested
                    if self._subscribed and wanted > sent:
                        pubsub.ping(str(wanted))
                        sent = wanted
                    message = pubsub.get_message(timeout=_POLL_SECONDS)
                    if message is not None:
                        self._on_message(message)
                        warned = False
            except Exception as exc:
                self._lost()
                if not warned:
                    warned = True
                    log.warning(
                        "key notices unavailable: keys are checked in PostgreSQL every"
                        f" {self._check_seconds:g} s",
                        extra={"error": exc.__class__.__name__},
                    )
                self._stop.wait(1.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(redis.RedisError, OSError):
                        pubsub.close()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self._subscribed = True
            self._wake.set()  # notices may have been missed while not subscribed
        elif kind == "pong":
            data = message.get("data")
            if isinstance(data, bytes) and data.isdigit():
                with self._sync:
                    self._sync_answered = max(self._sync_answered, int(data))
                    self._sync.notify_all()
        elif kind == "message":
            self._on_notice(message["data"])

    def _on_notice(self, raw: bytes | str) -> None:
        notice = parse_notice(raw, self._signer)
        if notice is None or notice.source != KEYS_SOURCE or not self._loaded.is_set():
            if notice is not None and notice.source == KEYS_SOURCE:
                self._wake.set()
            return
        held = self.version
        new = Version(notice.epoch, notice.version)
        if new.epoch == held.epoch and new.version <= held.version:
            return
        if new.epoch == held.epoch and new.version == held.version + 1 and notice.complete:
            self._apply(
                held,
                new,
                [Change(c.kind, c.key, c.environment, c.document) for c in notice.changes],
            )
            return
        self._wake.set()  # a gap or a notice without documents: the checker catches up

    def _lost(self) -> None:
        self._subscribed = False
        with self._sync:
            self._sync_answered = self._sync_requested
            self._sync.notify_all()

    def _synced(self) -> bool:
        """Wait until every notice published before now is handled (one PING on the
        subscription); False when not subscribed or not answered in time."""
        if not self._subscribed:
            return False
        with self._sync:
            self._sync_requested += 1
            ticket = self._sync_requested
            return self._sync.wait_for(
                lambda: self._sync_answered >= ticket, timeout=SYNC_WAIT_SECONDS
            )

    # -- why a retired key is refused ----------------------------------------------------

    def _why(self, key_hash: str) -> Refusal:
        with self._lock:
            known = self._refusals.get(key_hash)
            if known is not None:
                self._refusals.move_to_end(key_hash)
                return known
        try:
            with transaction(self._auth_database_url) as conn:
                key = key_store.find_by_hash(conn, key_hash=key_hash)
                replacement = key_store.replacement_of(conn, key.id) if key else None
        except (ServiceUnavailable, psycopg.Error):
            return Refusal.not_held()
        found = (
            REFUSED
            if key is None
            else refusal(key=key, replacement=replacement, now=datetime.now(UTC))
        )
        if found is None:  # usable after all: the checker is about to bring it
            self._wake.set()
            return Refusal.not_held()
        with self._lock:
            self._refusals[key_hash] = found
            while len(self._refusals) > self._max_refusals:
                self._refusals.popitem(last=False)
        return found
