"""Change notices: how every write reaches what evaluation holds, within milliseconds.

Versions live in PostgreSQL (`stores.config_changes`, `stores.key_changes`): the
transaction that writes bumps them. After it commits, the writer publishes one notice on
`SNAPSHOT_CHANGES_CHANNEL`:

    {"source": "config" | "keys", "epoch": "<uuid>", "version": 123,
     "changes": [{"kind": "flag", "key": "x", "environment": "production" | null,
                  "document": {...} | null}],
     "complete": true}

`document` is the entity as the transaction left it (null: gone), in the shape the
stores load. A transaction that touched more than `MAX_DOCUMENTED_ENTITIES` entities
(an import) sends `"complete": false` and no documents: a reader catches up from
PostgreSQL. For keys, `kind` is `"key"` and `key` the key's id as a string.

A notice can be lost (Redis down, a reader not subscribed yet): readers also compare
their version with PostgreSQL's periodically, so a lost notice delays a change, never
hides it. Publishing therefore never fails a write: an unreachable Redis is logged
once when the outage starts and once when it ends.

Key notices are sealed with `GRANT_SECRET` (`keys.signing`: `tm1.<mac>.<the JSON>`): a
reader ignores a key notice that is unsigned or wrongly signed, and logs that it did
(at most every `IGNORED_LOG_SECONDS`, never its content), so whoever can write to Redis
cannot add a key. A replayed notice is harmless: versions only move forward, and a
notice for the version after the one a reader holds is the real change of that version.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.core.adapters.redis_clients import redis_client
from functions.core.keys.signing import NOTICE, Signer, is_sealed
from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL

log = logging.getLogger(__name__)

CONFIG_SOURCE = "config"
KEYS_SOURCE = "keys"
KINDS: Mapping[str, frozenset[str]] = {
    CONFIG_SOURCE: frozenset({"flag", "segment", "environment"}),
    KEYS_SOURCE: frozenset({"key"}),
}
IGNORED_LOG_SECONDS = 10.0
MAX_DOCUMENTED_ENTITIES = 200
"""Above this many entities, a notice names the changes without their documents: a
notice stays small, and a reader catching up from PostgreSQL reads in bulk anyway."""


@dataclass(frozen=True, slots=True)
class NoticeChange:
    kind: str
    key: str
    environment: str | None
    document: dict[str, Any] | None
    """The entity as the write left it; None: gone (or not sent, in an incomplete notice)."""


@dataclass(frozen=True, slots=True)
class Notice:
    source: str
    epoch: str
    version: int
    changes: tuple[NoticeChange, ...]
    complete: bool
    """False: `changes` carry no documents; read them from PostgreSQL."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "epoch": self.epoch,
                "version": self.version,
                "changes": [
                    {
                        "kind": change.kind,
                        "key": change.key,
                        "environment": change.environment,
                        "document": change.document,
                    }
                    for change in self.changes
                ],
                "complete": self.complete,
            },
            separators=(",", ":"),
        )

    def wire(self, signer: Signer | None) -> bytes:
        """What is published: the JSON, sealed when there is a signer."""
        payload = self.to_json().encode()
        return signer.seal(NOTICE, payload) if signer is not None else payload


def parse_notice(raw: bytes | str, signer: Signer | None = None) -> Notice | None:
    """The notice, or None for anything that is not one, or not to be trusted: a key
    notice without a valid signature by `signer` (a reader ignores it, and its periodic
    version check catches up whatever a real notice meant)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if is_sealed(data):
        payload = signer.open(NOTICE, data) if signer is not None else None
        if payload is None:
            _ignored("its signature is not GRANT_SECRET's")
            return None
        return _parse(payload)
    notice = _parse(data)
    if notice is not None and notice.source == KEYS_SOURCE:
        _ignored("a key notice must be signed")
        return None
    return notice


_ignored_logged_at: dict[str, float] = {}


def _ignored(why: str) -> None:
    now = time.monotonic()
    if now - _ignored_logged_at.get(why, -IGNORED_LOG_SECONDS) >= IGNORED_LOG_SECONDS:
        _ignored_logged_at[why] = now
        log.warning("change notice ignored", extra={"why": why})


def _parse(raw: bytes) -> Notice | None:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, TypeError):
        return None
    if not isinstance(body, dict):
        return None
    source, epoch, version = body.get("source"), body.get("epoch"), body.get("version")
    complete, changes = body.get("complete"), body.get("changes")
    if (
        not isinstance(source, str)
        or source not in KINDS
        or not isinstance(epoch, str)
        or not epoch
        or not isinstance(version, int)
        or isinstance(version, bool)
        or version < 0
        or not isinstance(complete, bool)
        or not isinstance(changes, list)
    ):
        return None
    parsed = []
    for change in changes:
        item = _change(change, KINDS[source])
        if item is None:
            return None
        parsed.append(item)
    return Notice(source, epoch, version, tuple(parsed), complete)


def _change(raw: object, kinds: frozenset[str]) -> NoticeChange | None:
    if not isinstance(raw, dict):
        return None
    kind, key = raw.get("kind"), raw.get("key")
    environment, document = raw.get("environment"), raw.get("document")
    if (
        kind not in kinds
        or not isinstance(key, str)
        or not key
        or not (environment is None or isinstance(environment, str))
        or not (document is None or isinstance(document, dict))
    ):
        return None
    return NoticeChange(str(kind), key, environment, document)


_failing: set[str] = set()
_failing_lock = threading.Lock()


def publish(redis_url: str, notice: Notice, signer: Signer | None = None) -> bool:
    """Publish after the write committed (sealed by `signer` when given); False (logged
    once per outage) if Redis could not be told."""
    import redis  # loaded here, not at start-up (`adapters.redis_clients`)

    try:
        redis_client(redis_url).publish(SNAPSHOT_CHANGES_CHANNEL, notice.wire(signer))
    except redis.RedisError as exc:
        with _failing_lock:
            first = redis_url not in _failing
            _failing.add(redis_url)
        if first:
            log.error(
                "change notices not delivered: evaluation sees changes by its periodic"
                " version check until Redis answers again",
                extra={
                    "source": notice.source,
                    "version": notice.version,
                    "error": exc.__class__.__name__,
                },
            )
        return False
    with _failing_lock:
        recovered = redis_url in _failing
        _failing.discard(redis_url)
    if recovered:
        log.info(
            "change notices delivered again",
            extra={"source": notice.source, "version": notice.version},
        )
    return True
