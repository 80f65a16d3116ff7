"""What evaluation knows of one flag, and where it gets it.

Order of sources: this process's memo, the shared Redis copy, then the flags and
targeting functions (with the service key): `GET /flags/<name>` for the definition
and state, `GET /rules/<name>` for the rule document, and `GET /segments/<key>` for
each segment the rules name. Every cached entry is tagged with the
configuration version read *before* fetching (see `notices`), so a change made
meanwhile makes it stale. When the functions cannot be reached, the last known
entry is served and marked stale rather than failing the evaluation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode

import redis
import requests

from functions.core import engine
from functions.core.errors import EnvironmentNotFound, ServiceUnavailable, Unprocessable
from functions.core.http_client import ThreadSessions
from functions.core.notices import CONFIG_VERSION_KEY, current_version
from functions.core.rule_documents import flag_definition, referenced_segments

log = logging.getLogger(__name__)

ENTRY_PREFIX = "tm:eval:flag:"
_NO_SEGMENTS: Mapping[str, engine.Segment] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FlagConfig:
    definition: engine.FlagDefinition | None
    enabled: bool
    ruleset: engine.Ruleset | None
    invalid_rules: str | None = None
    stale: bool = False
    segments: Mapping[str, engine.Segment] = field(default_factory=lambda: _NO_SEGMENTS)


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    document: dict[str, Any]
    config: FlagConfig
    born: float  # time.monotonic() when fetched: entries live at most the TTL


MEMO_ENTRIES = 50_000
"""Flags × environments one process remembers; the least recently used go first."""


def build_config(
    name: str,
    flag: dict[str, Any] | None,
    rule: dict[str, Any] | None,
    segments: Mapping[str, dict[str, Any]] | None = None,
) -> FlagConfig:
    """Rows as the flags and targeting functions return them → engine objects.

    A flag row without definition fields (a seed row) is the seed's boolean flag. A
    segment the rules name but `segments` lacks (deleted meanwhile) simply never matches.
    """
    if flag is None:
        return FlagConfig(definition=None, enabled=False, ruleset=None)
    enabled = bool(flag["is_enabled"])
    try:
        definition = flag_definition(name, flag)
    except Unprocessable as exc:
        fallback = engine.boolean_definition(name)
        return FlagConfig(fallback, enabled, None, invalid_rules=f"definition: {exc.message}")
    if rule is None or not rule.get("is_enabled", True):
        return FlagConfig(definition=definition, enabled=enabled, ruleset=None)
    try:
        ruleset = engine.parse_ruleset(
            rule["rules"], definition, referenced_segments(rule["rules"])
        )
        parsed = {key: engine.parse_segment(document) for key, document in (segments or {}).items()}
    except engine.RuleValidationError as exc:
        return FlagConfig(
            definition=definition,
            enabled=enabled,
            ruleset=None,
            invalid_rules=f"{exc.path}: {exc.message}",
        )
    return FlagConfig(definition, enabled, ruleset, segments=MappingProxyType(parsed))


class FlagConfigReader:
    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        flag_service_url: str,
        targeting_service_url: str,
        service_api_key: str,
        ttl_seconds: int,
        timeout: float = 3.0,
    ) -> None:
        self._redis = redis_client
        self._flags_url = flag_service_url.rstrip("/")
        self._targeting_url = targeting_service_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {service_api_key}"}
        self._ttl = ttl_seconds
        self._timeout = timeout
        self._memo: OrderedDict[str, _Entry] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._sessions = ThreadSessions()

    def get(self, name: str, environment: str) -> FlagConfig:
        """The flag as `environment` sees it; EnvironmentNotFound if there is no such one."""
        entry_key = f"{ENTRY_PREFIX}{environment}:{name}"
        try:
            raw_version, raw_entry = self._redis.mget(CONFIG_VERSION_KEY, entry_key)
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

    def _fetch(self, name: str, environment: str, *, version: int | None) -> FlagConfig:
        entry_key = f"{ENTRY_PREFIX}{environment}:{name}"
        query = f"{quote(name, safe='')}?{urlencode({'environment': environment})}"
        try:
            flag = self._read(f"{self._flags_url}/flags/{query}")
            rule = self._read(f"{self._targeting_url}/rules/{query}") if flag is not None else None
            segments = self._segments(rule)
        except ServiceUnavailable:
            memo = self._recall(entry_key, any_age=True)
            if memo is None:
                raise
            log.warning("serving the last known configuration", extra={"flag_name": name})
            return FlagConfig(
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
        config = build_config(name, document["flag"], document["rule"], document.get("segments"))
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
            segment = self._read(f"{self._targeting_url}/segments/{quote(key, safe='')}")
            if segment is not None:
                found[key] = _segment_document(segment)
        return found

    def _read(self, url: str) -> dict[str, Any] | None:
        try:
            response = self._sessions.get().get(url, headers=self._headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ServiceUnavailable("the flag configuration is unreachable") from exc
        if response.status_code == 404:
            try:
                missing = response.json()
            except ValueError:
                raise ServiceUnavailable("the flag configuration answered 404, not JSON") from None
            if missing.get("code") == EnvironmentNotFound.code:
                raise EnvironmentNotFound(missing["error"], environment=missing.get("environment"))
            return None
        if response.status_code in (401, 403):
            log.error("SERVICE_API_KEY was refused by the flag functions")
            raise ServiceUnavailable("evaluation's service key was refused")
        if response.status_code != 200:
            raise ServiceUnavailable(f"the flag configuration answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body


def _segment_document(row: dict[str, Any]) -> dict[str, Any]:
    """A `GET /segments/<key>` answer back to the engine's segment document."""
    document = {"key": row["key"]}
    for name in ("name", "description", "included", "excluded", "conditions"):
        if row.get(name) is not None:
            document[name] = row[name]
    return document
