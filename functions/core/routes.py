"""The public paths on one host: which function serves each path, said once.

`make dev`'s gateway (`http://localhost:8000`) routes by this table, and the cluster's
single-host ingress is generated from it, so that both route every path alike.

A route's prefix is matched segment by segment, and the path may go on below it:
`/flags` matches `/flags` and `/flags/checkout_v2`, never `/flagsx`; `*` stands for
any one segment. The first route that matches wins, so the more specific come first
(`/environments/*/keys` is auth's, every other `/environments` path is flags').
A route with `strip` hands its function the path below the prefix: the seed's
single-host layout, `/auth/admin/keys` → auth's `/admin/keys`, kept where it collides
with nothing. Analytics' queries are public (`/analytics/...`); the events reach its
`/` only from the queue's source, never through the host.

What every function answers for itself (`/`, `/health`, `/ready`, `/openapi.json`,
`/docs`) is not routed: the host answers those for all functions at once (`HOST_PATHS`).
Operators' paths (`/metrics`, `/status`) are not public at all (`INTERNAL_PATHS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from functions.core.names import FUNCTIONS

ANY_SEGMENT = "*"


@dataclass(frozen=True, slots=True)
class PublicRoute:
    prefix: str
    """`/flags`, `/environments/*/keys`: absolute, without a trailing slash."""
    function: str
    strip: bool = False
    """Hand the function the path below `prefix` (`/auth/health` → `/health`)."""

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"a route's prefix starts with '/' and does not end with it: {self}")
        if self.function not in FUNCTIONS:
            raise ValueError(f"no function called {self.function!r}: {self}")
        if self.strip and ANY_SEGMENT in self.segments:
            raise ValueError(f"a stripped prefix is literal: {self}")

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.prefix[1:].split("/"))

    @property
    def pattern(self) -> str:
        """The paths it matches, as a regular expression (for ingresses that take one)."""
        parts = ("[^/]+" if part == ANY_SEGMENT else re.escape(part) for part in self.segments)
        return "^/" + "/".join(parts) + "(/.*)?$"

    def target(self, path: str) -> str | None:
        """The path the function is handed for `path`, or None when this route does not
        match it. `path` is the request's path, without its query string."""
        sent = path[1:].split("/") if path.startswith("/") else None
        if sent is None or len(sent) < len(self.segments):
            return None
        for part, wanted in zip(sent, self.segments, strict=False):
            if part != wanted and not (wanted == ANY_SEGMENT and part):
                return None
        if not self.strip:
            return path
        return "/" + "/".join(sent[len(self.segments) :])


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a public path goes: the function, and the path it is handed."""

    function: str
    path: str
    route: PublicRoute


ROUTES: tuple[PublicRoute, ...] = (
    # auth: keys, and what other functions ask it
    PublicRoute("/environments/*/keys", "auth"),
    PublicRoute("/admin", "auth"),
    PublicRoute("/validate", "auth"),
    # flags: flags, their state per environment, environments, configuration files
    PublicRoute("/flags", "flags"),
    PublicRoute("/export", "flags"),
    PublicRoute("/import", "flags"),
    PublicRoute("/environments", "flags"),
    PublicRoute("/overview", "flags"),
    # targeting: rules and segments
    PublicRoute("/rules", "targeting"),
    PublicRoute("/segments", "targeting"),
    # evaluation: decisions and OFREP
    PublicRoute("/evaluate", "evaluation"),
    PublicRoute("/ofrep", "evaluation"),
    # analytics: who got what, and flags nobody evaluates
    PublicRoute("/analytics", "analytics"),
    # The seed's single-host layout (`/flags` and `/evaluate` are real paths above)
    PublicRoute("/auth", "auth", strip=True),
    PublicRoute("/targeting", "targeting", strip=True),
)

HOST_PATHS: tuple[str, ...] = ("/", "/health", "/ready", "/openapi.json", "/docs")
"""Paths every function answers for itself, which the host answers for all of them
(`/docs` with the page's files below it)."""

INTERNAL_PATHS: tuple[str, ...] = ("/metrics", "/status")
"""What each process tells its operators (Prometheus figures, evaluation's worker
state): scraped inside the cluster from each function's own port, never routed on the
public host."""


def resolve(path: str, routes: tuple[PublicRoute, ...] = ROUTES) -> Destination | None:
    """The function serving `path` on the one host, or None when no route names it."""
    for route in routes:
        target = route.target(path)
        if target is not None:
            return Destination(route.function, target, route)
    return None


def routed_functions(routes: tuple[PublicRoute, ...] = ROUTES) -> tuple[str, ...]:
    """The functions the host reaches, in start order."""
    named = {route.function for route in routes}
    return tuple(function for function in FUNCTIONS if function in named)
