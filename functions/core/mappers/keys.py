"""Keys between representations: `api_keys` rows into records, records into grants and
response bodies. No body ever gets a field for the key hash."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from functions.core.models.keys import (
    SEED_SCOPES,
    ApiKey,
    AuditEntry,
    AuditRecord,
    CreatedKey,
    Grant,
    KeyInfo,
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


def grant(*, key: ApiKey) -> Grant:
    """What auth publishes for the other functions once it has checked the key."""
    return Grant(
        key_id=key.id,
        name=key.name,
        scopes=key.scopes,
        environment=key.environment,
        expires_at=key.expires_at.timestamp() if key.expires_at else None,
    )


def grant_from_validation(*, body: Mapping[str, Any]) -> Grant:
    """`GET /validate`'s body; an older auth without ids or scopes means a seed key."""
    scopes = body.get("scopes")
    expires_at = body.get("expires_at")
    return Grant(
        key_id=int(body.get("id") or 0),
        name=str(body.get("name", "")),
        scopes=frozenset(scopes) if isinstance(scopes, list) else SEED_SCOPES,
        environment=body.get("environment") or None,
        expires_at=datetime.fromisoformat(expires_at).timestamp() if expires_at else None,
    )


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
