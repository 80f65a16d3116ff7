"""`python -m functions.commands.migrate`: bring the databases up to the schema in `sql/`.

The auth database gets the `auth` migrations, the configuration database the
`flags` then `targeting` ones. URLs come from AUTH_DATABASE_URL and
CONFIG_DATABASE_URL, or DATABASE_URL for both.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from functions.core.adapters.migrations import COMPONENTS_BY_DATABASE, MigrationError, migrate

__all__ = ["main", "migrate"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.migrate", description=__doc__
    )
    fallback = os.environ.get("DATABASE_URL")
    parser.add_argument("--auth-url", default=os.environ.get("AUTH_DATABASE_URL", fallback))
    parser.add_argument("--config-url", default=os.environ.get("CONFIG_DATABASE_URL", fallback))
    args = parser.parse_args(argv)
    targets = {"auth": args.auth_url, "config": args.config_url}
    for database, url in targets.items():
        if not url:
            variable = "AUTH_DATABASE_URL" if database == "auth" else "CONFIG_DATABASE_URL"
            print(f"migrate: set {variable} or DATABASE_URL", file=sys.stderr)
            return 2
        try:
            applied = migrate(url, COMPONENTS_BY_DATABASE[database])
        except MigrationError as exc:
            print(f"migrate: {database} database: {exc}", file=sys.stderr)
            return 1
        print(f"{database} database: " + (", ".join(applied) if applied else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
