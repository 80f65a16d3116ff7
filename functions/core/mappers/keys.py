"""Keys between representations: `api_keys` rows into records, records into refusals
and response bodies. No body ever gets a field for the key hash."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from functions.core.models.keys import (
    ApiKey,
    AuditEntry,
    AuditRecord,
    CreatedKey,
    KeyInfo,
    Refusal,
)

CREATED_MESSAGE = "API key created. Store it now: it is shown only once."


def api_key(*, row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        id=int(row["id"]),
        name=str(row["name"]),
        key_hash=str(row["key_hash"]),
        is_active=bool(row["is_active"]),
        created_at=row["created_at"],
        scopes=frozenset(row["scopes"]),
        prefix=row["prefix"],
        environment=row["environment"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def audit_record(*, row: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        id=int(row["id"]),
        action=str(row["action"]),
        key_id=int(row["key_id"]),
        new_key_id=row["new_key_id"],
        actor=str(row["actor"]),
        actor_key_id=row["actor_key_id"],
        at=row["at"],
    )


def refusal(*, key: ApiKey, replacement: int | None, now: datetime) -> Refusal | None:
    """Why a key in the table is not usable (None: it is): revoked, rotated out (by the
    audit's record of the rotation, `replacement`) or expired."""
    if key.usable_at(now):
        return None
    if key.revoked_at is not None or not key.is_active:
        if replacement is not None:
            return Refusal.rotated(key.revoked_at, replacement)
        return Refusal.revoked(key.revoked_at)
    if replacement is not None:
        return Refusal.rotated(key.expires_at, replacement)
    assert key.expires_at is not None
    return Refusal.expired(key.expires_at)


def key_info(*, key: ApiKey, now: datetime) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=sorted(key.scopes),  # type: ignore[arg-type]
        environment=key.environment,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        active=key.usable_at(now),
    )


def created_key(
    *,
    key: ApiKey,
    plaintext: str,
    rotated_from: int | None = None,
    previous_key_expires_at: datetime | None = None,
) -> CreatedKey:
    return CreatedKey(
        id=key.id,
        name=key.name,
        key=plaintext,
        message=CREATED_MESSAGE,
        prefix=key.prefix or "",
        scopes=sorted(key.scopes),  # type: ignore[arg-type]
        environment=key.environment,
        created_at=key.created_at,
        expires_at=key.expires_at,
        rotated_from=rotated_from,
        previous_key_expires_at=previous_key_expires_at,
    )


def audit_entry(*, record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        id=record.id,
        action=record.action,  # type: ignore[arg-type]
        key_id=record.key_id,
        new_key_id=record.new_key_id,
        actor=record.actor,  # type: ignore[arg-type]
        actor_key_id=record.actor_key_id,
        at=record.at,
    )
