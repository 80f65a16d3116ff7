"""Provision the key evaluation uses to read flags and rules (seed report §1.4).

Run by `make dev` and by the deploy Job, never typed by hand: each run mints a new
key named `evaluation-service` and retires the previous ones.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row

from functions.core.key_store import create_key, deactivate_keys_named

SERVICE_KEY_NAME = "evaluation-service"


def provision_service_key(auth_database_url: str) -> str:
    with psycopg.connect(auth_database_url, row_factory=dict_row) as conn:
        key, plaintext = create_key(conn, name=SERVICE_KEY_NAME)
        deactivate_keys_named(conn, name=SERVICE_KEY_NAME, keep_id=key.id)
    return plaintext


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.bootstrap", description=__doc__)
    parser.add_argument(
        "--auth-url",
        default=os.environ.get("AUTH_DATABASE_URL", os.environ.get("DATABASE_URL")),
    )
    args = parser.parse_args(argv)
    if not args.auth_url:
        print("bootstrap: set AUTH_DATABASE_URL or DATABASE_URL", file=sys.stderr)
        return 2
    print(provision_service_key(args.auth_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
