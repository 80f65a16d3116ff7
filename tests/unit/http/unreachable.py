"""Settings for serving a function in-process with nothing behind it: its description
(`/`, `/openapi.json`, `/docs`) must need no dependency."""

from __future__ import annotations

UNREACHABLE = "http://127.0.0.1:9"
"""Nothing listens here: serving a function's description must need no dependency."""
UNREACHABLE_DEPENDENCIES: dict[str, dict[str, str]] = {
    "auth": {"DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth", "MASTER_KEY": "m" * 16},
    "flags": {
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "REDIS_URL": "redis://127.0.0.1:9",
        "AUTH_SERVICE_URL": UNREACHABLE,
    },
    "targeting": {
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "REDIS_URL": "redis://127.0.0.1:9",
        "AUTH_SERVICE_URL": UNREACHABLE,
    },
    "evaluation": {
        "REDIS_URL": "redis://127.0.0.1:9",
        "CONFIG_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
        "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
        "AWS_SQS_URL": f"{UNREACHABLE}/queue",
    },
    "analytics": {"AWS_ENDPOINT_URL": UNREACHABLE},
}
"""Each function's settings, every dependency pointing where nothing listens."""
