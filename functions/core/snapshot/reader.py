"""What evaluation knows of one flag, and where it gets it.

Order of sources: this process's memo, the shared Redis copy, then the flags and
targeting functions (with the service key): `GET /flags/<name>` for the definition
and state, `GET /rules/<name>` for the rule document, and `GET /segments/<key>` for
each segment the rules name. Every cached entry is tagged with the
configuration version read *before* fetching (see `snapshot.notices`), so a change made
meanwhile makes it stale. When the functions cannot be reached, the last known
entry is served and marked stale rather than failing the evaluation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import redis

from functions.core.adapters.config_api import ConfigApi
from functions.core.errors import ServiceUnavailable
from functions.core.mappers.definitions import referenced_segments
from functions.core.mappers.evaluation import CompiledFlag, compiled_flag
from functions.core.mappers.segments import segment_document
from functions.core.redis_keys import CONFIG_VERSION, FLAG_ENTRY_PREFIX
from functions.core.snapshot.notices import current_version

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    document: dict[str, Any]
    config: CompiledFlag
    born: float  # time.monotonic() when fetched: entries live at most the TTL


MEMO_ENTRIES = 50_000
"""Flags × environments one process remembers; the least recently used go first."""


class FlagReader:
    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        source: ConfigApi,
        ttl_seconds: int,
    ) -> None:
        self._redis = redis_client
        self._source = source
        self._ttl = ttl_seconds
        self._memo: OrderedDict[str, _Entry] = OrderedDict()
        self._memo_lock = threading.Lock()

    def get(self, name: str, environment: str) -> CompiledFlag:
        """The flag as `environment` sees it; EnvironmentNotFound if there is no such one."""
        entry_key = f"{FLAG_ENTRY_PREFIX}{environment}:{name}"
        try:
            raw_version, raw_entry = self._redis.mget(CONFIG_VERSION, entry_key)
        except redis.RedisError as exc:
            log.warning("redis unavailable; reading the flag functions", extra={"error": str(exc)})
            return self._fetch(name, environment, version=None)
        version = current_version(self._redis, raw_version)
        memo = self._recall(entry_key)
        if memo is not None and memo.version == version:
            return memo.config
        if raw_entry is not None:
            document = json.loads(raw_entry)
            if document.get("version") == version:
                return self._remember(entry_key, name, version, document).config
        return self._fetch(name, environment, version=version)

    def _fetch(self, name: str, environment: str, *, version: int | None) -> CompiledFlag:
        entry_key = f"{FLAG_ENTRY_PREFIX}{environment}:{name}"
        try:
            flag = self._source.flag(name, environment)
            rule = self._source.rule(name, environment) if flag is not None else None
            segments = self._segments(rule)
        except ServiceUnavailable:
            memo = self._recall(entry_key, any_age=True)
            if memo is None:
                raise
            log.warning("serving the last known configuration", extra={"flag_name": name})
            return CompiledFlag(
                definition=memo.config.definition,
                enabled=memo.config.enabled,
                ruleset=memo.config.ruleset,
                invalid_rules=memo.config.invalid_rules,
                stale=True,
                segments=memo.config.segments,
            )
        document = {
            "version": version,
            "flag": flag,
            "rule": rule,
            "segments": segments,
            "fetched_at": time.time(),
        }
        if version is not None:
            try:
                self._redis.set(entry_key, json.dumps(document), ex=self._ttl)
            except redis.RedisError:
                log.warning("could not share the flag configuration in redis")
        return self._remember(
            entry_key, name, version if version is not None else -1, document
        ).config

    def _remember(
        self, entry_key: str, name: str, version: int, document: dict[str, Any]
    ) -> _Entry:
        config = compiled_flag(
            name=name,
            flag=document["flag"],
            rule=document["rule"],
            segments=document.get("segments"),
        )
        entry = _Entry(version, document, config, time.monotonic())
        with self._memo_lock:
            self._memo[entry_key] = entry
            self._memo.move_to_end(entry_key)
            while len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)
        return entry

    def _recall(self, entry_key: str, *, any_age: bool = False) -> _Entry | None:
        """The remembered entry, if younger than the TTL (any age: last known good)."""
        with self._memo_lock:
            entry = self._memo.get(entry_key)
            if entry is not None:
                self._memo.move_to_end(entry_key)
        if entry is None or (not any_age and time.monotonic() - entry.born > self._ttl):
            return None
        return entry

    def _segments(self, rule: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """The segments an enabled rule names, as stored documents; absent ones are left out."""
        if rule is None or not rule.get("is_enabled", True):
            return {}
        found = {}
        for key in referenced_segments(rule.get("rules")):
            segment = self._source.segment(key)
            if segment is not None:
                found[key] = segment_document(body=segment)
        return found
