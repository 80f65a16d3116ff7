"""How large a request body may be, checked in one place for every protocol.

The body-limit middleware of each protocol (`functions.http.wsgi.BodyLimit`,
`functions.http.asgi.BodyLimit`) calls `body_refusal` with the declared length before
the framework reads anything, then with the bytes received so far while it reads a body
of unknown length (chunked, or HTTP/2's); the router calls it again with the body it
hands a route, so a route never sees more than it declared (`Router.route(body_limit=...)`).
A refusal closes the connection (`Connection: close`): the rest of the body is never read,
and no body is ever held whole before its size is known to be within the limit.

A body that ends before its declared length, or whose sender is gone before its last
byte, is refused too (`cut_short`): a document cut at a line break is often still valid
YAML or JSON, and an import of the first half of a file would delete what the other
half holds.
"""

from __future__ import annotations

from collections.abc import Callable

from functions.core.errors import BadRequest, PayloadTooLarge
from functions.http.messages import Response
from functions.http.responses import error_response

MAX_BODY_BYTES = 256 * 1024
"""What a route accepts unless it declares more (imports, event packs)."""

BodyLimitOf = Callable[[str, str], int]
"""(method, path) → the largest body accepted there: `Router.body_limit`, what both
body-limit middlewares ask."""


def default_limit(method: str, path: str) -> int:
    """Every route's limit, for a function whose router is not known."""
    return MAX_BODY_BYTES


def body_refusal(size: int | None, limit: int) -> Response | None:
    """The 413 JSON answer for a body of `size` bytes (None: not known yet) above `limit`."""
    if size is None or size <= limit:
        return None
    return error_response(PayloadTooLarge(f"the body is larger than {limit} bytes"))


def cut_short(received: int, declared: int | None) -> Response:
    """The 400 JSON answer for a body that stopped before it was whole: `received` bytes
    of the `declared` length (None: chunked, its sender gone before the last chunk)."""
    expected = "" if declared is None else f" of the {declared} its Content-Length declares"
    return error_response(
        BadRequest(f"the body ended after {received} bytes{expected}: nothing was done")
    )
