"""A request and a response as every route sees them, whatever the protocol that carried
them: the WSGI adapter (`functions.http.wsgi`) and the ASGI one (`functions.http.asgi`)
build a `Request` and send back a `Response`, so that routing, body limits and the error
mapping are written once, in `functions.http.router`.

Both are built on every request of the hot path: slotted, no copies beyond what the
adapter must decode, and the query string parsed only when a route asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import cast
from urllib.parse import unquote_plus


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each name's first value, in the order the names came."""
    first = dict(pairs)
    if len(first) == len(pairs):
        return first  # no name repeated (most queries): one C-level pass
    first = {}
    for name, value in pairs:
        first.setdefault(name, value)
    return first


class QueryArgs:
    """The query parameters, in order, a name possibly repeated (`?tag=a&tag=b`).

    `get` answers the first value, as the routes always have; `getlist` every one.
    """

    __slots__ = ("_first", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = list(pairs)
        self._first = _first_values(self._pairs)

    @classmethod
    def parse(cls, query: str) -> QueryArgs:
        """`a=1&b=&c`: split on `&`, percent- and plus-decoded as UTF-8 (bad bytes become
        U+FFFD), blank values kept: what `urllib.parse.parse_qsl` answers, without
        decoding the pairs that need none (most of them, on the hot path)."""
        if "%" not in query and "+" not in query:
            # Nothing to decode (most queries): `name=value` → (name, value), in one pass.
            pairs = cast(  # a string: a subscripted type would be built on every call
                "list[tuple[str, str]]",
                [part.partition("=")[::2] for part in query.split("&") if part],
            )
        else:
            pairs = []
            for part in query.split("&"):
                if not part:
                    continue
                name, _, value = part.partition("=")
                if "%" in part or "+" in part:
                    name = unquote_plus(name, errors="replace")
                    value = unquote_plus(value, errors="replace")
                pairs.append((name, value))
        args = cls.__new__(cls)
        args._pairs = pairs
        args._first = _first_values(pairs)
        return args

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name, default)

    def getlist(self, name: str) -> list[str]:
        return [value for named, value in self._pairs if named == name]

    def repeated(self) -> list[str]:
        """The names given more than once, in the order they first came."""
        if len(self._pairs) == len(self._first):
            return []  # no name repeated (most queries)
        seen: set[str] = set()
        twice: dict[str, None] = {}  # ordered, and a lookup per pair: a query of thousands
        for name, _ in self._pairs:  # of names each given twice stays linear
            if name in seen:
                twice[name] = None
            seen.add(name)
        return list(twice)

    def items(self, multi: bool = False) -> Iterator[tuple[str, str]]:
        """Each name with its first value; `multi`: every pair, in the order sent."""
        if multi:
            return iter(self._pairs)
        return iter(self._first.items())

    def keys(self) -> Iterator[str]:
        return iter(self._first)

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __contains__(self, name: object) -> bool:
        return name in self._first

    def __len__(self) -> int:
        return len(self._first)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QueryArgs) and self._pairs == other._pairs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"QueryArgs({self._pairs!r})"


class Headers(Mapping[str, str]):
    """Request headers by case-insensitive name. A header sent several times reads as
    its values joined by ", ", as HTTP allows for every header a route reads."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        """`values`: names already lower-case (what both adapters produce)."""
        self._values: dict[str, str] = dict(values) if values else {}

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Headers:
        """From (name, value) pairs in any case, repeated names joined."""
        values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            values[key] = f"{values[key]}, {value}" if key in values else value
        headers = cls.__new__(cls)
        headers._values = values
        return headers

    @classmethod
    def owning(cls, values: dict[str, str]) -> Headers:
        """Take `values` (lower-case names) without copying: for the adapters."""
        headers = cls.__new__(cls)
        headers._values = values
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._values.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


_NO_HEADERS = Headers()


class Request:
    """One HTTP request, its body already read (and refused above the route's limit).

    `path` is decoded ("/flags/a b"); `query_string` is the raw query, parsed into `args`
    on first use.
    """

    __slots__ = ("_args", "body", "client", "headers", "method", "path", "query_string")

    def __init__(
        self,
        method: str,
        path: str,
        *,
        query_string: str = "",
        headers: Headers | None = None,
        body: bytes = b"",
        client: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers if headers is not None else _NO_HEADERS
        self.body = body
        self.client = client
        """The peer's address as the server saw it (see `http.throttle` for proxies)."""
        self._args: QueryArgs | None = None

    @property
    def args(self) -> QueryArgs:
        args = self._args
        if args is None:
            args = self._args = QueryArgs.parse(self.query_string)
        return args

    @property
    def content_type(self) -> str:
        """The Content-Type header as sent ("" when absent)."""
        return self.headers.get("content-type") or ""

    @property
    def mimetype(self) -> str:
        """The media type alone, lower-case: `text/yaml; charset=utf-8` → `text/yaml`."""
        return self.content_type.partition(";")[0].strip().lower()

    @property
    def content_length(self) -> int | None:
        """The declared Content-Length; None when absent or not a number."""
        declared = self.headers.get("content-length")
        if declared is None:
            return None
        declared = declared.strip()
        return int(declared) if declared.isdigit() else None

    def __repr__(self) -> str:
        query = f"?{self.query_string}" if self.query_string else ""
        return f"<Request {self.method} {self.path}{query}>"


class Response:
    """What a route answers. `media_type` becomes the Content-Type header (None: no
    body to describe); `headers` are sent as given, names in their usual case."""

    __slots__ = ("body", "headers", "media_type", "status")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.status = status
        self.headers: dict[str, str] = headers if headers is not None else {}
        self.media_type = media_type

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.media_type or '-'} {len(self.body)} bytes>"
