"""Request and response bodies of the auth function's key endpoints.

No response model has a field for the key hash; only `CreatedKey` (create and
rotate) carries the plaintext key, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from functions.core.models import KeyName, RequestBody
from functions.core.names import ENVIRONMENT_PATTERN

Scope = Literal["admin", "write", "read", "evaluate"]
EnvironmentName = Annotated[str, Field(pattern=ENVIRONMENT_PATTERN)]
MAX_GRACE_SECONDS = 30 * 24 * 3600


def _distinct(scopes: list[Scope]) -> list[Scope]:
    if len(set(scopes)) != len(scopes):
        raise ValueError("scopes must not repeat")
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
    environment: EnvironmentName | None = Field(
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


class ResponseBody(BaseModel):
    model_config = ConfigDict(frozen=True)


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
