"""The configuration one evaluation process decides with, as one immutable value.

A `Snapshot` is never changed in place: a change builds a new one from the old one and
the keeper swaps a single reference, so a request that took the snapshot at its start
sees one version of everything to its end, never half an update.

It holds the documents of `stores.config_changes` / `stores.key_changes` (one shape
for the PostgreSQL loader, the notices and the Redis copy) and compiles a flag for an
environment lazily, on its first evaluation: a cold start with 10 000 flags parses
documents only, and a change recompiles only what it touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core.mappers.definitions import referenced_segments
from functions.core.mappers.evaluation import CompiledFlag, compiled_flag
from functions.core.models.keys import Grant

Document = Mapping[str, Any]

FLAG = "flag"
SEGMENT = "segment"
ENVIRONMENT = "environment"
KEY = "key"

_NOT_FOUND = CompiledFlag(definition=None, enabled=False, ruleset=None)


@dataclass(frozen=True, slots=True)
class Version:
    """Where one source (the configuration, or the keys) stands: `epoch` names the
    database's life, so versions of a recreated database never pass for current."""

    epoch: str
    version: int


@dataclass(frozen=True, slots=True)
class Change:
    """One entity as a change left it: `document` None means it is gone."""

    kind: str
    key: str
    environment: str | None
    document: Document | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    config: Version
    keys: Version
    flags: Mapping[str, Document]
    segments: Mapping[str, Document]
    environments: Mapping[str, Document]
    env_versions: Mapping[str, int]
    """Environment → the version of the last change that reached it (the bulk ETag)."""
    grants: Mapping[str, Grant]
    """Key hash → what the key may do; only active keys are here."""
    key_hashes: Mapping[int, str]
    _compiled: dict[tuple[str, str], CompiledFlag] = field(default_factory=dict, repr=False)

    def flag(self, environment: str, name: str) -> CompiledFlag:
        """The flag as `environment` decides it; an unknown flag costs a dict miss."""
        found = self._compiled.get((environment, name))
        if found is not None:
            return found
        document = self.flags.get(name)
        if document is None:
            return _NOT_FOUND
        compiled = _compile(name, document, environment, self.segments)
        self._compiled[(environment, name)] = compiled
        return compiled

    def flag_names(self) -> list[str]:
        return sorted(self.flags)

    def grant(self, key_hash: str, now: float) -> Grant | None:
        found = self.grants.get(key_hash)
        if found is None or found.expired(now):
            return None
        return found

    def etag(self, environment: str) -> str:
        return f"{self.config.epoch[:8]}-{self.env_versions.get(environment, 0)}"

    def with_config(self, version: Version, changes: Iterable[Change]) -> Snapshot:
        """This snapshot with configuration `changes` applied, at `version`."""
        flags = dict(self.flags)
        segments = dict(self.segments)
        environments = dict(self.environments)
        env_versions = dict(self.env_versions)
        changed_flags: set[str] = set()
        gone_environments: set[str] = set()
        recompile_all = False
        every_environment = False
        for change in changes:
            if change.kind == FLAG:
                _put(flags, change.key, change.document)
                changed_flags.add(change.key)
            elif change.kind == SEGMENT:
                _put(segments, change.key, change.document)
                recompile_all = True
            elif change.kind == ENVIRONMENT:
                _put(environments, change.key, change.document)
                if change.document is None:
                    env_versions.pop(change.key, None)
                    gone_environments.add(change.key)
                    continue
            else:
                continue
            if change.environment is not None:
                env_versions[change.environment] = version.version
            elif change.kind == ENVIRONMENT:
                env_versions[change.key] = version.version
            else:
                every_environment = True
        if every_environment:
            env_versions = dict.fromkeys(environments, version.version)
        compiled = (
            {}
            if recompile_all
            else {
                key: value
                for key, value in self._compiled.items()
                if key[1] not in changed_flags and key[0] not in gone_environments
            }
        )
        return Snapshot(
            config=version,
            keys=self.keys,
            flags=flags,
            segments=segments,
            environments=environments,
            env_versions=env_versions,
            grants=self.grants,
            key_hashes=self.key_hashes,
            _compiled=compiled,
        )

    def with_keys(self, version: Version, changes: Iterable[Change]) -> Snapshot:
        """This snapshot with key `changes` applied (by key id), at `version`."""
        grants = dict(self.grants)
        key_hashes = dict(self.key_hashes)
        for change in changes:
            key_id = int(change.key)
            old_hash = key_hashes.pop(key_id, None)
            if old_hash is not None:
                grants.pop(old_hash, None)
            entry = grant_entry(change.document)
            if entry is not None:
                grants[entry[0]] = entry[1]
                key_hashes[key_id] = entry[0]
        return Snapshot(
            config=self.config,
            keys=version,
            flags=self.flags,
            segments=self.segments,
            environments=self.environments,
            env_versions=self.env_versions,
            grants=grants,
            key_hashes=key_hashes,
            _compiled=self._compiled,
        )


def config_snapshot(
    version: Version,
    documents: Mapping[tuple[str, str], Document],
    env_versions: Mapping[str, int],
    keys: Snapshot | None = None,
) -> Snapshot:
    """A snapshot from a whole configuration (PostgreSQL or the Redis copy); the keys
    are taken from `keys` when given."""
    flags: dict[str, Document] = {}
    segments: dict[str, Document] = {}
    environments: dict[str, Document] = {}
    by_kind = {FLAG: flags, SEGMENT: segments, ENVIRONMENT: environments}
    for (kind, key), document in documents.items():
        target = by_kind.get(kind)
        if target is not None and document is not None:
            target[key] = document
    return Snapshot(
        config=version,
        keys=keys.keys if keys is not None else Version("", 0),
        flags=flags,
        segments=segments,
        environments=environments,
        env_versions={env: env_versions.get(env, version.version) for env in environments},
        grants=keys.grants if keys is not None else {},
        key_hashes=keys.key_hashes if keys is not None else {},
    )


def with_all_keys(snapshot: Snapshot, version: Version, documents: Iterable[Document]) -> Snapshot:
    """`snapshot` with its keys replaced by a whole set (PostgreSQL or the Redis copy)."""
    grants: dict[str, Grant] = {}
    key_hashes: dict[int, str] = {}
    for document in documents:
        entry = grant_entry(document)
        if entry is not None:
            grants[entry[0]] = entry[1]
            key_hashes[entry[1].key_id] = entry[0]
    return Snapshot(
        config=snapshot.config,
        keys=version,
        flags=snapshot.flags,
        segments=snapshot.segments,
        environments=snapshot.environments,
        env_versions=snapshot.env_versions,
        grants=grants,
        key_hashes=key_hashes,
        _compiled=snapshot._compiled,
    )


EMPTY = Snapshot(
    config=Version("", 0),
    keys=Version("", 0),
    flags={},
    segments={},
    environments={},
    env_versions={},
    grants={},
    key_hashes={},
)


def grant_entry(document: Document | None) -> tuple[str, Grant] | None:
    """(hash, grant) of an active key document; None for a gone or inactive key."""
    if document is None or not document.get("active", False):
        return None
    expires = document.get("expires_at")
    return document["key_hash"], Grant(
        key_id=int(document["id"]),
        name=str(document.get("name") or ""),
        scopes=frozenset(document.get("scopes") or ()),
        environment=document.get("environment"),
        expires_at=_epoch_seconds(expires),
    )


def _epoch_seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def _put(target: dict[str, Document], key: str, document: Document | None) -> None:
    if document is None:
        target.pop(key, None)
    else:
        target[key] = document


def _compile(
    name: str, document: Document, environment: str, segments: Mapping[str, Document]
) -> CompiledFlag:
    states = document.get("states") or {}
    rules = document.get("rules") or {}
    rule = rules.get(environment)
    row = {**document, "is_enabled": bool(states.get(environment, False))}
    used = {}
    if rule is not None and rule.get("is_enabled", True):
        used = {k: segments[k] for k in referenced_segments(rule.get("rules")) if k in segments}
    return compiled_flag(name=name, flag=row, rule=rule, segments=used)
