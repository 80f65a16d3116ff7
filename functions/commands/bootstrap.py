"""Provision the key evaluation uses to read flags and rules (seed report §1.4).

Run by `make dev` and by the deploy Job, never typed by hand: each run mints a new
key named `evaluation-service` with exactly the scope evaluation needs — `read`, for
`GET /flags/<name>` and `GET /rules/<name>` — and retires the previous ones.

Retired keys keep working for a grace period (`--grace-seconds`, 10 minutes by
default), so evaluation processes still running with the old key keep reading flags
and rules while the deploy replaces them; then they expire. `--grace-seconds 0`
revokes them at once (a leaked key). Both are recorded in the audit as done by
"bootstrap": a `rotate` from each old key to the new one, or a `revoke`.

`make dev` calls `keep_or_provision_key` instead, for the service key and the
walk-through key: a restart reuses the keys it wrote to `.run/dev.env` the time before,
so keys do not pile up.

Once committed, the change reaches the functions that hold the keys (flags, targeting,
evaluation) by their version check in PostgreSQL, and at once by a signed notice when
REDIS_URL and GRANT_SECRET are given (`services.change_writes.KeyWrites`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from functions.core.adapters import db
from functions.core.errors import ServiceUnavailable
from functions.core.keys.material import hash_key, looks_like_key
from functions.core.keys.signing import Signer
from functions.core.services.change_writes import KeyWrites
from functions.core.stores.keys import (
    create_key,
    deactivate_keys_named,
    find_by_hash,
    record_audit,
    retire_keys_named,
)

SERVICE_KEY_NAME = "evaluation-service"
SERVICE_KEY_SCOPES = frozenset({"read"})
DEFAULT_GRACE_SECONDS = 600


def provision_service_key(
    auth_database_url: str,
    *,
    redis_url: str | None = None,
    grant_secret: str | None = None,
    grace_seconds: int = DEFAULT_GRACE_SECONDS,
    name: str = SERVICE_KEY_NAME,
    scopes: frozenset[str] = SERVICE_KEY_SCOPES,
) -> str:
    """Mint the new service key (or another key bootstrap owns, by `name`); the previous
    ones of that name expire `grace_seconds` from now."""
    if grace_seconds < 0:
        raise ValueError("grace_seconds must be 0 or more")
    signer = Signer(grant_secret) if grant_secret else None
    with KeyWrites(auth_database_url, redis_url, signer).transaction() as conn:
        key, plaintext = create_key(conn, name=name, scopes=scopes)
        record_audit(conn, action="create", key_id=key.id, actor="bootstrap")
        if grace_seconds:
            ends = datetime.now(UTC) + timedelta(seconds=grace_seconds)
            retired = retire_keys_named(conn, name=name, keep_id=key.id, expires_at=ends)
            for old in retired:
                record_audit(
                    conn, action="rotate", key_id=old.id, new_key_id=key.id, actor="bootstrap"
                )
        else:
            retired = deactivate_keys_named(conn, name=name, keep_id=key.id)
            for old in retired:
                record_audit(conn, action="revoke", key_id=old.id, actor="bootstrap")
    return plaintext


def keep_or_provision_key(
    auth_database_url: str,
    *,
    name: str,
    scopes: frozenset[str],
    kept: str | None,
    redis_url: str | None = None,
) -> str:
    """`kept` while it is still a usable key called `name` with exactly `scopes`; else a
    new one, and every other key called `name` revoked at once.

    What `make dev` runs on each start with the keys the previous start wrote to
    `.run/dev.env`: a restart reuses them instead of adding keys, and a stack whose
    database is new (or whose keys were revoked) gets fresh ones. Nothing runs with a
    previous key while the stack starts, so no grace period is needed."""
    if kept and looks_like_key(kept):
        with db.transaction(auth_database_url) as conn:
            found = find_by_hash(conn, key_hash=hash_key(kept))
        if (
            found is not None
            and found.name == name
            and found.scopes == scopes
            and found.usable_at(datetime.now(UTC))
        ):
            return kept
    return provision_service_key(
        auth_database_url, redis_url=redis_url, grace_seconds=0, name=name, scopes=scopes
    )


def _seconds(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.bootstrap", description=__doc__
    )
    parser.add_argument(
        "--auth-url",
        default=os.environ.get("AUTH_DATABASE_URL", os.environ.get("DATABASE_URL")),
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument(
        "--grace-seconds",
        type=_seconds,
        default=DEFAULT_GRACE_SECONDS,
        help="how long the previous service keys keep working (0: revoked at once)",
    )
    args = parser.parse_args(argv)
    if not args.auth_url:
        print("bootstrap: set AUTH_DATABASE_URL or DATABASE_URL", file=sys.stderr)
        return 2
    try:
        key = provision_service_key(
            args.auth_url,
            redis_url=args.redis_url or None,
            grant_secret=os.environ.get("GRANT_SECRET") or None,
            grace_seconds=args.grace_seconds,
        )
    except ServiceUnavailable as exc:
        print(f"bootstrap: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.close_all()
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
