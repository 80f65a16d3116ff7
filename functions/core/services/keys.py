"""The auth function's logic: issuing, describing, revoking, rotating and validating keys.

Auth reads its own table for every check it makes (it is the source of truth). The
other functions never ask it: they hold the keys themselves (`snapshot.key_keeper`,
`snapshot.keeper`), kept current by the keys' change log in this database.

Every key write goes through `KeyWrites`: a trigger bumps the keys' version and logs the
change in the same transaction, and once committed a notice signed with `GRANT_SECRET`
goes out through Redis. A revocation therefore commits whether or not Redis answers:
the notice makes it reach the other functions within milliseconds, and their version
check in PostgreSQL within a second without it (Redis down, or restored from older
data). Nothing about keys is trusted from Redis unsigned.

Environments belong to the flags function. Given its database (read only), auth
refuses to bind a key to an environment that does not exist (422 listing those that
do); without it, auth checks only the syntax of an environment name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from functions.core.adapters.db import Connection, transaction
from functions.core.adapters.redis_clients import redis_client
from functions.core.errors import (
    Conflict,
    Forbidden,
    InvalidValue,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from functions.core.keys.access import Caller, refused
from functions.core.keys.material import hash_key, looks_like_key, same_secret
from functions.core.keys.signing import Signer
from functions.core.keys.usage import note_usage, read_usage
from functions.core.mappers import keys as keys_mapper
from functions.core.models.keys import (
    REFUSED,
    SEED_SCOPES,
    ApiKey,
    AuditEntry,
    CreatedKey,
    CreateKeyRequest,
    KeyInfo,
    Refusal,
    RotateKeyRequest,
    Validation,
)
from functions.core.services.change_writes import KeyWrites
from functions.core.stores import environments as environment_store
from functions.core.stores import keys as key_store

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

VALID_MESSAGE = "API key is valid"
COUNTING_SCOPES = frozenset({"write", "admin"})
"""Either may count an environment's keys: scopes do not imply one another."""
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who manages keys: the master key, or an admin key (recorded in the audit)."""

    kind: str
    key_id: int | None = None

    @classmethod
    def master(cls) -> Actor:
        return cls("master")


def _now() -> datetime:
    return datetime.now(UTC)


class AuthService:
    def __init__(
        self,
        *,
        database_url: str,
        master_key: str,
        redis_url: str | None,
        grant_secret: str,
        config_database_url: str | None = None,
    ) -> None:
        self._database_url = database_url
        self._master_key = master_key
        self._redis_url = redis_url
        self._config_database_url = config_database_url
        self._writes = KeyWrites(database_url, redis_url, Signer(grant_secret))

    def _redis(self) -> redis.Redis | None:
        return redis_client(self._redis_url) if self._redis_url else None

    def _shared(self, action: Callable[[redis.Redis], T], what: str) -> T | None:
        """Best effort: Redis makes auth's answers reach other processes sooner, never
        decides them."""
        client = self._redis()
        if client is None:
            return None
        import redis  # loaded with the first client (`adapters.redis_clients`)

        try:
            return action(client)
        except redis.RedisError as exc:
            log.warning(
                f"redis unavailable: {what} skipped", extra={"error": exc.__class__.__name__}
            )
            return None

    # -- who is calling ------------------------------------------------------------------

    def authorize_admin(self, presented: str | None) -> Actor:
        """The master key, or a valid key with the `admin` scope. Anything else is 403,
        not 401: the seed's contract for `/admin` (DESIGN.md §2), which scripts test for;
        the body says why, as every 401 does elsewhere (`reason`)."""
        if presented is not None and same_secret(presented, self._master_key):
            return Actor.master()
        if presented is None:
            raise Forbidden(
                "missing key: /admin/* takes the master key, or an API key with the 'admin'"
                " scope, in 'Authorization: Bearer <key>'",
                reason="missing",
            )
        if not looks_like_key(presented):
            raise Forbidden(
                "this is neither the master key nor an API key (API keys start with"
                " 'tm_key_'): check MASTER_KEY",
                reason="not_a_key",
            )
        try:
            key = self._usable_key(presented)
        except Unauthorized as exc:
            raise Forbidden(exc.message, **exc.details) from None
        Caller(key.id, key.name, key.scopes, key.environment).require("admin")
        return Actor("key", key.id)

    def authorize_key_count(self, presented: str | None, environment: str) -> None:
        """Who may count the keys bound to `environment`: the master key, or a key with
        `write` or `admin` (the flags function forwards its caller's `write` key before
        deleting an environment) that is unbound or bound to that very environment."""
        if presented is not None and same_secret(presented, self._master_key):
            return
        key = self._usable_key(presented)
        if key.environment is not None and key.environment != environment:
            raise Forbidden(
                f"this API key is bound to environment '{key.environment}' and may not ask"
                f" about '{environment}'",
                environment=key.environment,
            )
        if not key.scopes & COUNTING_SCOPES:
            raise Forbidden(
                "counting the keys bound to an environment takes the 'write' or 'admin' scope",
                scopes=sorted(key.scopes),
            )

    def validate(self, presented: str | None) -> Validation:
        key = self._usable_key(presented)
        return Validation(
            message=VALID_MESSAGE,
            id=key.id,
            name=key.name,
            scopes=sorted(key.scopes),  # type: ignore[arg-type]
            environment=key.environment,
            expires_at=key.expires_at,
        )

    def _usable_key(self, presented: str | None) -> ApiKey:
        """Checked against the table; a valid key is also published for the other functions.
        A refused one is 401 saying why (see `Refusal`)."""
        if presented is None:
            raise refused(Refusal.missing())
        if same_secret(presented, self._master_key):
            raise refused(Refusal.master_key())
        if not looks_like_key(presented):
            raise refused(Refusal.not_a_key())
        with transaction(self._database_url) as conn:
            key = key_store.find_by_hash(conn, key_hash=hash_key(presented))
            refusal = None if key is None else self._refusal(conn, key)
        if key is None:
            raise refused(REFUSED)
        if refusal is not None:
            raise refused(refusal)
        self._shared(lambda client: note_usage(client, {key.id: _now().timestamp()}), "usage note")
        return key

    @staticmethod
    def _refusal(conn: Connection, key: ApiKey) -> Refusal | None:
        """Why a key in the table is not usable (None: it is): revoked, rotated out (by
        the audit's record of the rotation) or expired."""
        now = _now()
        if key.usable_at(now):
            return None
        replacement = key_store.replacement_of(conn, key.id)
        return keys_mapper.refusal(key=key, replacement=replacement, now=now)

    # -- lifecycle -----------------------------------------------------------------------

    def create_key(self, body: CreateKeyRequest, *, actor: Actor) -> CreatedKey:
        scopes = frozenset(body.scopes) if body.scopes else SEED_SCOPES
        self._check_binding(scopes, body.environment)
        self._check_expiry(body.expires_at)
        self._check_environment_exists(body.environment)
        with self._writes.transaction() as conn:
            key, plaintext = key_store.create_key(
                conn,
                name=body.name,
                scopes=scopes,
                environment=body.environment,
                expires_at=body.expires_at,
            )
            _audit(conn, "create", key.id, actor)
        log.info("api key created", extra={"key_id": key.id, "actor": actor.kind})
        return keys_mapper.created_key(key=key, plaintext=plaintext)

    def list_keys(self) -> list[KeyInfo]:
        with transaction(self._database_url) as conn:
            self._merge_usage(conn)
            keys = key_store.list_keys(conn)
        now = _now()
        return [keys_mapper.key_info(key=key, now=now) for key in keys]

    def get_key(self, key_id: int) -> KeyInfo:
        with transaction(self._database_url) as conn:
            self._merge_usage(conn)
            key = _existing(key_store.get_key(conn, key_id), key_id)
        return keys_mapper.key_info(key=key, now=_now())

    def revoke_key(self, key_id: int, *, actor: Actor) -> KeyInfo:
        """Soft and idempotent: the row stays for the audit; revoking twice records once."""
        with self._writes.transaction() as conn:
            revoked = key_store.revoke_key(conn, key_id)
            if revoked is None:
                key = _existing(key_store.get_key(conn, key_id), key_id)
            else:
                key = revoked
                _audit(conn, "revoke", key_id, actor)
        if revoked is not None:
            log.info("api key revoked", extra={"key_id": key_id, "actor": actor.kind})
        return keys_mapper.key_info(key=key, now=_now())

    def rotate_key(self, key_id: int, body: RotateKeyRequest, *, actor: Actor) -> CreatedKey:
        """A new key with the same name, scopes and binding; the old one keeps working
        for `grace_seconds` (0: it is revoked at once)."""
        self._check_expiry(body.expires_at)
        now = _now()
        if self._config_database_url is not None:
            with transaction(self._database_url) as conn:
                bound_to = _existing(key_store.get_key(conn, key_id), key_id).environment
            self._check_environment_exists(bound_to, key_id=key_id)
        with self._writes.transaction() as conn:
            old = _existing(key_store.get_key(conn, key_id, for_update=True), key_id)
            if not old.usable_at(now):
                raise Conflict(f"API key {key_id} is revoked or expired: create a new key instead")
            new, plaintext = key_store.create_key(
                conn,
                name=old.name,
                scopes=old.scopes,
                environment=old.environment,
                expires_at=body.expires_at or old.expires_at,
            )
            if body.grace_seconds:
                retired = key_store.shorten_expiry(
                    conn, key_id, expires_at=now + timedelta(seconds=body.grace_seconds)
                )
            else:
                retired = key_store.revoke_key(conn, key_id) or old
            _audit(conn, "rotate", key_id, actor, new_key_id=new.id)
        log.info(
            "api key rotated",
            extra={"key_id": key_id, "new_key_id": new.id, "actor": actor.kind},
        )
        return keys_mapper.created_key(
            key=new,
            plaintext=plaintext,
            rotated_from=key_id,
            previous_key_expires_at=retired.revoked_at or retired.expires_at,
        )

    def audit(self, *, limit: int, before_id: int | None) -> list[AuditEntry]:
        with transaction(self._database_url) as conn:
            records = key_store.list_audit(conn, limit=limit, before_id=before_id)
        return [keys_mapper.audit_entry(record=record) for record in records]

    def active_keys_in(self, environment: str) -> int:
        with transaction(self._database_url) as conn:
            return key_store.count_active_in_environment(conn, environment)

    # -- helpers -------------------------------------------------------------------------

    def _merge_usage(self, conn: Connection) -> None:
        used = self._shared(read_usage, "usage merge")
        if used:
            key_store.merge_last_used(
                conn, {key_id: datetime.fromtimestamp(at, UTC) for key_id, at in used.items()}
            )

    @staticmethod
    def _check_binding(scopes: frozenset[str], environment: str | None) -> None:
        if environment is not None and "admin" in scopes:
            raise InvalidValue(
                "an admin key manages every key, so it cannot be bound to an environment",
                field="environment",
            )

    def _check_environment_exists(self, environment: str | None, *, key_id: int = 0) -> None:
        """A key bound to a missing environment would be refused on every call (404):
        422 instead, listing the environments there are. `key_id`: the key being rotated."""
        if environment is None or self._config_database_url is None:
            return
        with transaction(self._config_database_url) as conn:
            existing = environment_store.environment_keys(conn)
        if environment in existing:
            return
        listed = ", ".join(existing) or "none yet"
        subject = (
            f"API key {key_id} is bound to environment '{environment}', which no longer"
            " exists: create a new key instead"
            if key_id
            else f"environment '{environment}' does not exist"
        )
        raise Unprocessable(
            f"{subject}; existing environments: {listed} (create one with POST /environments"
            " on the flags function, or leave 'environment' out for a key that acts on every"
            " environment)",
            field="environment",
            environment=environment,
            environments=existing,
        )

    @staticmethod
    def _check_expiry(expires_at: datetime | None) -> None:
        if expires_at is not None and expires_at <= _now():
            raise InvalidValue("expires_at must be in the future", field="expires_at")


def _existing(key: ApiKey | None, key_id: int) -> ApiKey:
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    return key


def _audit(
    conn: Connection, action: str, key_id: int, actor: Actor, *, new_key_id: int | None = None
) -> None:
    key_store.record_audit(
        conn,
        action=action,
        key_id=key_id,
        actor=actor.kind,
        actor_key_id=actor.key_id,
        new_key_id=new_key_id,
    )
