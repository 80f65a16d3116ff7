"""Request and response bodies of the auth function's key endpoints.

No response model has a field for the key hash; only `CreatedKey` (create and
rotate) carries the plaintext key, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from functions.core.models.common import RequestBody, ResponseBody
from functions.core.names import EnvironmentKey

Scope = Literal["admin", "write", "read", "evaluate"]
SCOPES: tuple[Scope, ...] = ("admin", "write", "read", "evaluate")
SEED_SCOPES = frozenset({"read", "write", "evaluate"})
"""What a key created without scopes may do: what every key of the old system could."""
KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MAX_GRACE_SECONDS = 30 * 24 * 3600


def _distinct(scopes: list[Scope]) -> list[Scope]:
    if len(set(scopes)) != len(scopes):
        raise ValueError("'scopes' must not list a scope twice")
    return scopes


Scopes = Annotated[list[Scope], Field(min_length=1, max_length=4), AfterValidator(_distinct)]
# JSON has no datetime: the one field where a string is the right type.
Expiry = Annotated[AwareDatetime, Field(strict=False)]


class CreateKeyRequest(RequestBody):
    """The seed's `{"name"}`, plus what a key may do, where, and until when."""

    name: KeyName
    scopes: Scopes | None = Field(
        None, description="omitted: read, write and evaluate — what every seed key could do"
    )
    environment: EnvironmentKey | None = Field(
        None, description="bind the key to one environment; omitted: every environment"
    )
    expires_at: Expiry | None = None


class RotateKeyRequest(RequestBody):
    grace_seconds: int = Field(
        0, ge=0, le=MAX_GRACE_SECONDS, description="how long the old key keeps working"
    )
    expires_at: Expiry | None = Field(
        None, description="the new key's expiry; omitted: the old key's"
    )


class KeyInfo(ResponseBody):
    """A key as list and show describe it: never the key, never its hash."""

    id: int
    name: str
    prefix: str | None = Field(description="the key's first 12 characters (null for seed keys)")
    scopes: list[Scope]
    environment: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="neither revoked nor expired")


class CreatedKey(ResponseBody):
    """The seed's `{"name", "key", "message"}` and the new key's description."""

    id: int
    name: str
    key: str
    message: str
    prefix: str
    scopes: list[Scope]
    environment: str | None
    created_at: datetime
    expires_at: datetime | None
    rotated_from: int | None = None
    previous_key_expires_at: datetime | None = None


class Validation(ResponseBody):
    message: str
    id: int
    name: str
    scopes: list[Scope]
    environment: str | None
    expires_at: datetime | None


class AuditEntry(ResponseBody):
    id: int
    action: Literal["create", "revoke", "rotate"]
    key_id: int
    new_key_id: int | None
    actor: Literal["master", "bootstrap", "key"]
    actor_key_id: int | None = Field(description="the admin key that acted, when actor is key")
    at: datetime


class EnvironmentKeys(ResponseBody):
    environment: str
    active_keys: int


class AuthStats(ResponseBody):
    """`GET /admin/stats`: one process's figures (each worker answers for itself)."""

    pid: int
    validations: int = Field(description="`/validate` calls answered: other functions' misses")


# -- records: what crosses layers inside ToggleMaster, never a response body ----------


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A row of `api_keys`. `key_hash` stays inside auth: no response model carries it."""

    id: int
    name: str
    key_hash: str
    is_active: bool
    created_at: datetime
    scopes: frozenset[str]
    prefix: str | None
    environment: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.is_active and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    action: str
    key_id: int
    new_key_id: int | None
    actor: str
    actor_key_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid key may do, as the functions that hold the keys know it (from
    `api_keys`, see `snapshot.state.grant_entry`)."""

    key_id: int
    name: str
    scopes: frozenset[str]
    environment: str | None
    expires_at: float | None
    """Epoch seconds; None never expires."""

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a key is refused (401): it never becomes valid again. `reason` is stable
    (`missing`, `not_a_key`, `master_key`, `unknown`, `revoked`, `expired`, `rotated`);
    `message` says it to a person, with what to do instead."""

    reason: str = "unknown"
    message: str = (
        "unknown API key: check that it was copied whole, or create one with POST /admin/keys"
    )

    @classmethod
    def missing(cls) -> Refusal:
        return cls("missing", "missing API key: send 'Authorization: Bearer <key>'")

    @classmethod
    def not_a_key(cls) -> Refusal:
        """Anything not shaped like a key; the master key, most often, outside /admin."""
        return cls(
            "not_a_key",
            "this is not an API key (API keys start with 'tm_key_'); if it is the master"
            " key, it only opens /admin/*: create an API key with POST /admin/keys and use"
            " that",
        )

    @classmethod
    def not_held(cls) -> Refusal:
        """What evaluation says of a key its snapshot does not hold: it holds usable
        keys only, so it cannot tell an unknown key from a revoked or rotated-out one."""
        return cls(
            "unknown",
            "unknown, revoked or rotated-out API key: GET /admin/keys lists every key by its"
            " first 12 characters (prefix), with when it was revoked or expired",
        )

    @classmethod
    def master_key(cls) -> Refusal:
        return cls(
            "master_key",
            "the master key only opens /admin/*; create an API key with POST /admin/keys"
            " and use that",
        )

    @classmethod
    def revoked(cls, at: datetime | None) -> Refusal:
        when = f" at {moment(at)}" if at is not None else ""
        return cls(
            "revoked",
            f"this key was revoked{when}; use another key, or create one with POST /admin/keys",
        )

    @classmethod
    def expired(cls, at: datetime | float) -> Refusal:
        return cls(
            "expired", f"this key expired at {moment(at)}; create a new one with POST /admin/keys"
        )

    @classmethod
    def rotated(cls, at: datetime | None, replacement: int | None) -> Refusal:
        when = f" at {moment(at)}" if at is not None else ""
        use = f"its replacement (key id {replacement})" if replacement else "its replacement"
        return cls("rotated", f"this key was rotated out{when}; use {use}")


def moment(at: datetime | float) -> str:
    """A time as refusals say it: ISO 8601 in UTC, to the second (`2030-01-01T00:00:00Z`)."""
    when = at if isinstance(at, datetime) else datetime.fromtimestamp(at, UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


REFUSED = Refusal()
"""An unknown key (or one refused for a reason no one passed on)."""
