"""Provision the key evaluation uses to read flags and rules (seed report §1.4).

Run by `make dev` and by the deploy Job, never typed by hand: each run mints a new
key named `evaluation-service` with exactly the scope evaluation needs — `read`, for
`GET /flags/<name>` and `GET /rules/<name>` — and revokes the previous ones, recording
both in the audit as done by "bootstrap". Given REDIS_URL, it also tells every
function's key cache that the retired keys are gone.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row

from functions.core.auth_service import announce
from functions.core.cache import redis_client
from functions.core.key_store import create_key, deactivate_keys_named, record_audit

SERVICE_KEY_NAME = "evaluation-service"
SERVICE_KEY_SCOPES = frozenset({"read"})


def provision_service_key(auth_database_url: str, *, redis_url: str | None = None) -> str:
    with psycopg.connect(auth_database_url, row_factory=dict_row) as conn:
        key, plaintext = create_key(conn, name=SERVICE_KEY_NAME, scopes=SERVICE_KEY_SCOPES)
        record_audit(conn, action="create", key_id=key.id, actor="bootstrap")
        retired = deactivate_keys_named(conn, name=SERVICE_KEY_NAME, keep_id=key.id)
        for old in retired:
            record_audit(conn, action="revoke", key_id=old.id, actor="bootstrap")
    announce(redis_client(redis_url) if redis_url else None, retired)
    return plaintext


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.bootstrap", description=__doc__)
    parser.add_argument(
        "--auth-url",
        default=os.environ.get("AUTH_DATABASE_URL", os.environ.get("DATABASE_URL")),
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args(argv)
    if not args.auth_url:
        print("bootstrap: set AUTH_DATABASE_URL or DATABASE_URL", file=sys.stderr)
        return 2
    print(provision_service_key(args.auth_url, redis_url=args.redis_url or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
