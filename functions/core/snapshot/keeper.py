"""Keeps one process's snapshot current, off the request path.

Start: the Redis copy if there is one (no PostgreSQL needed), else PostgreSQL. Then
three threads:

- the listener applies change notices (Redis pub/sub): a notice that follows the
  version held is applied from its own documents; a gap, or a notice without
  documents, is closed from PostgreSQL's change log;
- the checker reads both versions in PostgreSQL every `check_seconds`: that confirms
  the snapshot is current, or catches up what a lost notice left out;
- the copier brings the Redis copy up to what this process holds.

Keys are trusted from Redis only when signed with `GRANT_SECRET` (`keys.signing`): a
key notice or a copy of the keys that is not is ignored. A process that started from
the Redis copy checks it against PostgreSQL before it answers (when PostgreSQL
answers), so a copy restored from older data never brings back a revoked key.

Freshness. `confirmed` is when the configuration was last known to be the newest:
a version check that found nothing newer, or a notice applied in sequence. An answer
is `stale` when that is older than `stale_after` (PostgreSQL unreachable, or
nothing loaded yet): the process keeps answering from the last known good snapshot
and says so. Redis down alone does not make answers stale: the checker still
confirms them, and propagation falls back to its period.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from functions.core.errors import ServiceUnavailable
from functions.core.keys.signing import Signer
from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL
from functions.core.snapshot import copy
from functions.core.snapshot.notices import Notice, parse_notice
from functions.core.snapshot.state import (
    EMPTY,
    Change,
    Snapshot,
    Version,
    config_snapshot,
    with_all_keys,
)

if TYPE_CHECKING:
    import redis

    # the PostgreSQL driver loads with the sources, not with this module
    from functions.core.snapshot.sources import ConfigSource, Delta, KeySource, Whole

log = logging.getLogger(__name__)

CONFIG = "config"
KEYS = "keys"
COPY_AUDIT_SECONDS = 5.0
"""How often, when nothing changes, a process checks that the Redis copy is still there."""


class Freshness(NamedTuple):
    """What every answer says of the snapshot it was decided on (a tuple: one per
    request)."""

    version: int
    age_ms: int
    stale: bool


class _Outage:
    """Logs a dependency's failure once when it starts and once when it ends."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None
        self.reason = ""

    def failed(self, exc: BaseException) -> None:
        self.reason = f"{self.what}: {exc}"
        if self.since is None:
            self.since = time.monotonic()
            log.warning(
                f"{self.what} unreachable; serving the snapshot held", extra={"error": str(exc)}
            )

    def recovered(self) -> bool:
        """True when this ends an outage."""
        if self.since is None:
            return False
        log.info(
            f"{self.what} reachable again",
            extra={"after_s": round(time.monotonic() - self.since, 3)},
        )
        self.since = None
        self.reason = ""
        return True


class SnapshotKeeper:
    def __init__(
        self,
        *,
        redis_factory: Callable[[], redis.Redis],
        config_source: ConfigSource,
        key_source: KeySource,
        check_seconds: float = 0.5,
        stale_after: float = 2.0,
        signer: Signer | None = None,
    ) -> None:
        self._redis_factory = redis_factory
        self._signer = signer
        self._config_source = config_source
        self._key_source = key_source
        self._check_seconds = check_seconds
        self._stale_after = stale_after
        self.current: Snapshot = EMPTY
        self.source = "none"
        """Where the snapshot was first loaded from: redis, postgresql or none."""
        self._confirmed = 0.0
        self._apply_lock = threading.Lock()
        self._loaded = threading.Event()
        self.loaded = False
        """Whether a snapshot is held (`_loaded`, readable without a call)."""
        self._stop = threading.Event()
        self._copy_wanted = threading.Event()
        self._threads: list[threading.Thread] = []
        self._fork_hook = False
        self._missed_while_loading = False
        self._postgres = _Outage("postgresql")
        self._redis = _Outage("redis")
        self._pending_copy: dict[str, list[tuple[Version, Version, list[Change]]]] = {
            CONFIG: [],
            KEYS: [],
        }
        self._copied: dict[str, Version | None] = {CONFIG: None, KEYS: None}

    # -- what requests read ------------------------------------------------------------

    def freshness(self) -> Freshness:
        snapshot = self.current
        if not self.loaded:
            return Freshness(snapshot.config.version, 0, True)
        age = time.monotonic() - self._confirmed
        return Freshness(snapshot.config.version, int(age * 1000), age > self._stale_after)

    def _mark_loaded(self) -> None:
        self._loaded.set()
        self.loaded = True

    def wait_loaded(self, timeout: float) -> bool:
        return self._loaded.wait(timeout)

    def problem(self) -> str | None:
        """Why the snapshot is stale or missing, in words for `/ready`."""
        if not self._loaded.is_set():
            reasons = [o.reason for o in (self._redis, self._postgres) if o.reason]
            return "no configuration loaded yet" + (f" ({'; '.join(reasons)})" if reasons else "")
        if self.freshness().stale:
            return self._postgres.reason or "the configuration could not be confirmed"
        return None

    def status(self) -> dict[str, Any]:
        snapshot = self.current
        fresh = self.freshness()
        return {
            "loaded": self.loaded,
            "source": self.source,
            "config_version": snapshot.config.version,
            "keys_version": snapshot.keys.version,
            "config_age_ms": fresh.age_ms,
            "stale": fresh.stale,
            "flags": len(snapshot.flags),
            "keys": len(snapshot.grants),
            "postgresql": "unreachable" if self._postgres.since is not None else "ok",
            "redis": "unreachable" if self._redis.since is not None else "ok",
        }

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads; in a process forked later (a server's worker), they are
        started again there, since a fork copies the snapshot but not the threads."""
        if self._threads:
            return
        if not self._fork_hook:
            self._fork_hook = True
            os.register_at_fork(
                after_in_child=self._after_fork, after_in_parent=self._after_fork_in_parent
            )
        for target, name in (
            (self._check_loop, "snapshot-checker"),
            (self._listen_loop, "snapshot-listener"),
            (self._copy_loop, "snapshot-copier"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _after_fork_in_parent(self) -> None:
        """A process that forks workers (the server's main process) only supervises
        them: its own threads and connections would be a keeper nobody asks."""
        if self._threads and not self._stop.is_set():
            self.stop(wait=False)

    def _after_fork(self) -> None:
        if not self._threads:
            return
        self._config_source.forget()
        self._key_source.forget()
        loaded = self._loaded.is_set()
        self._apply_lock = threading.Lock()
        self._copy_wanted = threading.Event()
        self._stop = threading.Event()
        self._loaded = threading.Event()
        if loaded:
            self._mark_loaded()
        self._threads = []
        self.start()

    def stop(self, *, wait: bool = True) -> None:
        self._stop.set()
        self._copy_wanted.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=2)

    # -- loading -------------------------------------------------------------------------

    def load(self) -> None:
        """First load: the Redis copy, else PostgreSQL; raises ServiceUnavailable when
        neither answers. The copy is checked against PostgreSQL before it is served (and
        served unconfirmed, stale, only when PostgreSQL does not answer)."""
        if self._load_from_redis():
            try:
                self.check()
            except ServiceUnavailable as exc:
                self._postgres.failed(exc)
            finally:
                self._mark_loaded()
            return
        config = self._config_source.whole()
        keys = self._key_source.whole()
        self._postgres.recovered()
        with self._apply_lock:
            snapshot = config_snapshot(config.version, config.documents, config.env_versions)
            self.current = with_all_keys(snapshot, keys.version, keys.documents.values())
            self._confirmed = time.monotonic()
            self.source = "postgresql"
            self._mark_loaded()
        self._want_whole_copy()

    def _load_from_redis(self) -> bool:
        import redis  # loaded here, not at start-up (`adapters.redis_clients`)

        try:
            client = self._redis_factory()
            config = copy.read(client, CONFIG)
            keys = copy.read(client, KEYS, self._signer)
        except (redis.RedisError, ValueError, KeyError) as exc:
            self._redis.failed(exc)
            return False
        if config is None or keys is None:
            return False
        env_versions = {str(k): int(v) for k, v in (config.meta.get("env_versions") or {}).items()}
        with self._apply_lock:
            snapshot = config_snapshot(config.version, config.documents, env_versions)
            self.current = with_all_keys(snapshot, keys.version, keys.documents.values())
            self._copied = {CONFIG: config.version, KEYS: keys.version}
            # Not confirmed yet: the checker confirms it against PostgreSQL.
            self._confirmed = time.monotonic() - self._stale_after - 1
            self.source = "redis"
        log.info("snapshot loaded from the redis copy", extra={"version": config.version.version})
        return True

    # -- the checker -----------------------------------------------------------------------

    def _check_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._loaded.is_set():
                    self.load()
                    if self._missed_while_loading:
                        self._missed_while_loading = False
                        self.check()
                else:
                    self.check()
                self._postgres.recovered()
            except ServiceUnavailable as exc:
                self._postgres.failed(exc)
            except Exception:
                log.exception("snapshot check failed")
            self._stop.wait(self._check_seconds)

    def check(self) -> None:
        """Compare with PostgreSQL's versions; catch up what is missing."""
        checked_at = time.monotonic()
        config_version = self._config_source.version()
        key_version = self._key_source.version()
        self._catch_up(CONFIG, config_version)
        self._catch_up(KEYS, key_version)
        with self._apply_lock:
            if self.current.config.version >= config_version.version:
                self._confirmed = max(self._confirmed, checked_at)

    def _catch_up(self, source: str, newest: Version) -> None:
        held = self._held(source)
        if held.epoch == newest.epoch and held.version >= newest.version:
            return
        reader = self._config_source if source == CONFIG else self._key_source
        if held.epoch != newest.epoch:
            self._replace(source, reader.whole())
            return
        delta: Delta = reader.since(held.version)
        if delta.changes is None or delta.version.epoch != held.epoch:
            self._replace(source, reader.whole())
            return
        self._apply(source, held, delta.version, delta.changes, confirm=False)

    def _replace(self, source: str, whole: Whole) -> None:
        with self._apply_lock:
            if source == CONFIG:
                self.current = config_snapshot(
                    whole.version, whole.documents, whole.env_versions, keys=self.current
                )
            else:
                self.current = with_all_keys(self.current, whole.version, whole.documents.values())
        log.info("snapshot reloaded", extra={"source": source, "version": whole.version.version})
        self._want_whole_copy()

    # -- the listener ----------------------------------------------------------------------

    def _listen_loop(self) -> None:
        import redis

        while not self._stop.is_set():
            try:
                pubsub = self._redis_factory().pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
                pubsub.subscribe(SNAPSHOT_CHANGES_CHANNEL)
                if self._redis.recovered() and self._loaded.is_set():
                    self._want_whole_copy()  # Redis may have come back empty
                try:
                    while not self._stop.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            self._on_notice(message["data"])
                finally:
                    pubsub.close()
            except redis.RedisError as exc:
                self._redis.failed(exc)
                self._stop.wait(min(self._check_seconds * 2, 1.0))

    def _on_notice(self, raw: bytes | str) -> None:
        notice = parse_notice(raw, self._signer)
        if notice is None:
            return
        if not self._loaded.is_set():
            self._missed_while_loading = True  # the checker catches up right after the load
            return
        source = CONFIG if notice.source == CONFIG else KEYS
        held = self._held(source)
        new = Version(notice.epoch, notice.version)
        if new.epoch == held.epoch and new.version <= held.version:
            return
        if new.epoch == held.epoch and new.version == held.version + 1 and notice.complete:
            self._apply(source, held, new, notice_changes(notice), confirm=True)
            return
        try:
            self._catch_up(source, new)
            self._postgres.recovered()
        except ServiceUnavailable as exc:
            self._postgres.failed(exc)

    # -- applying --------------------------------------------------------------------------

    def _held(self, source: str) -> Version:
        snapshot = self.current
        return snapshot.config if source == CONFIG else snapshot.keys

    def _apply(
        self, source: str, base: Version, new: Version, changes: list[Change], *, confirm: bool
    ) -> None:
        with self._apply_lock:
            if self._held(source) != base:
                return  # someone else moved it meanwhile; the checker will reconcile
            if source == CONFIG:
                self.current = self.current.with_config(new, changes)
                if confirm:
                    self._confirmed = time.monotonic()
            else:
                self.current = self.current.with_keys(new, changes)
            self._pending_copy[source].append((base, new, changes))
        self._copy_wanted.set()

    # -- the copier ------------------------------------------------------------------------

    def _want_whole_copy(self) -> None:
        with self._apply_lock:
            self._copied = {CONFIG: None, KEYS: None}
            self._pending_copy = {CONFIG: [], KEYS: []}
        self._copy_wanted.set()

    def _copy_loop(self) -> None:
        import redis

        while not self._stop.is_set():
            woken = self._copy_wanted.wait(COPY_AUDIT_SECONDS)
            self._copy_wanted.clear()
            if self._stop.is_set() or not self._loaded.is_set():
                continue
            try:
                if not woken:
                    self._audit_copy()
                self._copy_once()
                self._redis.recovered()
            except redis.RedisError as exc:
                self._redis.failed(exc)
                self._stop.wait(1.0)
                self._copy_wanted.set()

    def _audit_copy(self) -> None:
        """Forget what was written if the copy is gone or behind (Redis restarted empty,
        or failed over and lost the last writes): the next pass writes it whole."""
        client = self._redis_factory()
        for source in (CONFIG, KEYS):
            if source == KEYS and self._signer is not None:
                whole = copy.read(client, source, self._signer)
                found = whole.version if whole is not None else None
            else:
                found = copy.stored_version(client, source)
            with self._apply_lock:
                held = self._held(source)
                if found is None or found.epoch != held.epoch or found.version < held.version:
                    self._copied[source] = None
                    self._pending_copy[source] = []

    def _copy_once(self) -> None:
        client = self._redis_factory()
        for source in (CONFIG, KEYS):
            with self._apply_lock:
                snapshot = self.current
                pending = self._pending_copy[source]
                self._pending_copy[source] = []
                copied = self._copied[source]
            held = snapshot.config if source == CONFIG else snapshot.keys
            meta = _meta(source, snapshot)
            written = -1
            if source == KEYS and self._signer is not None:
                if copied != held:
                    copy.replace_signed(
                        client,
                        source,
                        version=held,
                        documents=_documents(source, snapshot),
                        signer=self._signer,
                    )
                with self._apply_lock:
                    self._copied[source] = held
                continue
            if copied is not None and pending and pending[0][0] == copied:
                merged: dict[tuple[str, str], Change] = {}
                for _, _, changes in pending:
                    for change in changes:
                        merged[(change.kind, change.key)] = change
                written = copy.apply(
                    client,
                    source,
                    base=copied,
                    new=pending[-1][1],
                    changes=list(merged.values()),
                    meta=meta,
                )
                if written >= 0:
                    copied = pending[-1][1]
            if written < 0 and copied != held:
                copy.replace(
                    client, source, version=held, documents=_documents(source, snapshot), meta=meta
                )
                copied = held
            with self._apply_lock:
                self._copied[source] = copied


def _meta(source: str, snapshot: Snapshot) -> dict[str, Any]:
    return {"env_versions": dict(snapshot.env_versions)} if source == CONFIG else {}


def _documents(source: str, snapshot: Snapshot) -> Mapping[tuple[str, str], Any]:
    if source == KEYS:
        return {
            ("key", str(grant.key_id)): {
                "id": grant.key_id,
                "key_hash": key_hash,
                "name": grant.name,
                "scopes": sorted(grant.scopes),
                "environment": grant.environment,
                "expires_at": grant.expires_at,
                "active": True,
            }
            for key_hash, grant in snapshot.grants.items()
        }
    documents: dict[tuple[str, str], Any] = {}
    documents.update({("flag", k): v for k, v in snapshot.flags.items()})
    documents.update({("segment", k): v for k, v in snapshot.segments.items()})
    documents.update({("environment", k): v for k, v in snapshot.environments.items()})
    return documents


def notice_changes(notice: Notice) -> list[Change]:
    """The changes a notice carries, as the snapshot applies them."""
    return [Change(c.kind, c.key, c.environment, c.document) for c in notice.changes]
