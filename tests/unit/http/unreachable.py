"""Settings for serving a function in-process with nothing behind it: its description
(`/`, `/openapi.json`, `/docs`) must need no dependency."""

from __future__ import annotations

import secrets

GRANT_SECRET = secrets.token_hex(32)
UNREACHABLE = "http://127.0.0.1:9"
"""Nothing listens here: serving a function's description must need no dependency."""
UNREACHABLE_DEPENDENCIES: dict[str, dict[str, str]] = {
    "auth": {
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
        "MASTER_KEY": secrets.token_urlsafe(32),
        "GRANT_SECRET": GRANT_SECRET,
    },
    "flags": {
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "REDIS_URL": "redis://127.0.0.1:9",
        "AUTH_SERVICE_URL": UNREACHABLE,
        "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
        "GRANT_SECRET": GRANT_SECRET,
    },
    "targeting": {
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "REDIS_URL": "redis://127.0.0.1:9",
        "AUTH_SERVICE_URL": UNREACHABLE,
        "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
        "GRANT_SECRET": GRANT_SECRET,
    },
    "evaluation": {
        "REDIS_URL": "redis://127.0.0.1:9",
        "CONFIG_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
        "AWS_SQS_URL": f"{UNREACHABLE}/queue",
        "GRANT_SECRET": GRANT_SECRET,
    },
    "analytics": {
        "AWS_ENDPOINT_URL": UNREACHABLE,
        "REDIS_URL": "redis://127.0.0.1:9",
        "CONFIG_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
        "GRANT_SECRET": GRANT_SECRET,
        "EVENTS_SIGNING_SECRET": secrets.token_hex(32),
    },
}
"""Each function's settings, every dependency pointing where nothing listens."""
