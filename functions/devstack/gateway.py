"""`make dev`'s one URL: every function behind one local address, routed by path.

A small streaming proxy on the standard library. It routes by `functions.core.routes`
(the table the cluster's single-host ingress is generated from), hands the function the
method, path, query, headers and body, and hands back its status, headers and body,
copied in chunks as they come (the functions cap bodies themselves). It answers itself
what is about every function at once: `GET /` (what is where), `GET /health` and
`GET /ready` (each function's), `GET /openapi.json` (their descriptions merged) and
`GET /docs` (the interactive page on it). Any other path is a JSON 404 saying where
things are.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from functions.core.routes import ROUTES, resolve, routed_functions
from functions.devstack.merged_openapi import merge
from functions.http import docs

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
"""Headers about one connection, never forwarded (RFC 9110 §7.6.1); `Expect` is
answered here, by the server's own 100 Continue."""
NO_BODY_STATUSES = frozenset({204, 304})
PROBE_TIMEOUT = 3.0


class Gateway:
    """The proxy on `host:port`, in threads of this process, in front of `upstreams`
    (function name → its base URL)."""

    def __init__(
        self,
        port: int,
        upstreams: Mapping[str, str],
        *,
        host: str = "127.0.0.1",
        timeout: float = 60.0,
    ) -> None:
        self.port = port
        self.host = host
        self.upstreams = dict(upstreams)
        self.timeout = timeout
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> str:
        """Listen and serve in a background thread; its URL."""
        server = _Server((self.host, self.port), _Handler)
        server.gateway = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        logger.info("gateway is up on %s", self.url)
        return self.url

    def stop(self) -> None:
        """Stop listening; requests in flight finish on their own threads."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- what the gateway answers itself ----------------------------------------------

    def index(self) -> dict[str, Any]:
        """`GET /`: every function, where it is, and what the host routes to it."""
        return {
            "service": "ToggleMaster",
            "description": "Every ToggleMaster function on one URL, routed by path.",
            "functions": [
                {
                    "function": function,
                    "url": self.upstreams[function],
                    "paths": [route.prefix for route in ROUTES if route.function == function],
                }
                for function in self.upstreams
            ],
            "routes": [
                {"prefix": route.prefix, "function": route.function, "strip": route.strip}
                for route in ROUTES
            ],
            "openapi": "/openapi.json",
            "docs": "/docs",
            "health": "/health",
            "ready": "/ready",
        }

    def probes(self, path: str) -> tuple[int, dict[str, Any]]:
        """`GET /health` or `/ready` of every function, side by side: 200 when all are."""
        with ThreadPoolExecutor(max_workers=len(self.upstreams) or 1) as pool:
            answers = dict(
                zip(
                    self.upstreams,
                    pool.map(lambda url: _get_json(url + path), self.upstreams.values()),
                    strict=True,
                )
            )
        good = all(status == 200 for status, _ in answers.values())
        label = ("ok" if path == "/health" else "ready") if good else "unavailable"
        functions = {
            function: body if status == 200 else {**body, "http_status": status}
            for function, (status, body) in answers.items()
        }
        return (200 if good else 503), {"status": label, "functions": functions}

    def openapi(self) -> tuple[int, dict[str, Any]]:
        """Every routed function's description, merged (502 naming one that is down)."""
        documents: dict[str, Any] = {}
        for function in routed_functions():
            status, body = _get_json(self.upstreams[function] + "/openapi.json")
            if status != 200:
                return 502, _error(
                    f"{function} did not give its description ({body.get('error', status)})",
                    "bad_gateway",
                    function=function,
                )
            documents[function] = body
        return 200, merge(documents)

    def not_found(self, method: str, path: str) -> dict[str, Any]:
        return _error(
            f"nothing here answers {method} {path}: see `GET /` for what is where,"
            " or /docs for every operation",
            "not_found",
            routes={route.prefix: route.function for route in ROUTES},
            docs="/docs",
        )


class _ClientGone(Exception):
    """The client closed its connection before sending the whole body."""


class _BadChunk(ValueError):
    """A chunked request body whose chunk sizes are not hexadecimal numbers."""


def _whole_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _error(message: str, code: str, **details: Any) -> dict[str, Any]:
    return {"error": message, "code": code, **details}


def _get_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET `url`: (status, JSON body); a failure to connect is (502, its error)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=PROBE_TIMEOUT)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        raw = response.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"body": raw.decode(errors="replace")[:200]}
        return response.status, body if isinstance(body, dict) else {"body": body}
    except OSError as exc:
        return 502, {"error": f"not answering at {parts.netloc}: {exc}"}
    finally:
        connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    gateway: Gateway

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is no error of ours: one debug line."""
        logger.debug("connection from %s ended early", client_address, exc_info=True)


_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
"""An HTTP method token: any such method is handed to the function, which answers 405
for those it does not serve, as it does on its own port."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.gateway.timeout)  # a client that stalls

    def __getattr__(self, name: str) -> Any:
        """`do_<METHOD>` for every method: the standard library answers 501 in HTML for
        any it finds no handler for."""
        if name.startswith("do_") and _METHOD.fullmatch(name[3:]):
            return self._route
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, a URL or header
        too long) in JSON like every other answer, never its HTML page."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # no version understood: answer in 1.1
            self.request_version = "HTTP/1.1"
        status = HTTPStatus(code)
        text = message or status.phrase
        body = _error(f"{text}: {explain}" if explain else text, status.name.lower())
        self._send_json(code, body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _route(self) -> None:
        gateway = self.server.gateway
        path, _, query = self.path.partition("?")
        if not _whole_number(self.headers.get("Content-Length") or "0"):
            self.close_connection = True
            message = "the Content-Length header must be a whole number of bytes"
            self._send_json(400, _error(message, "bad_request"))
            return
        own = self._own_answer(path)
        if own is not None:
            if self.command not in ("GET", "HEAD"):
                self._discard_body()
                message = f"{self.command} is not allowed on {path}: only GET"
                self._send_json(405, _error(message, "method_not_allowed"), {"Allow": "GET"})
                return
            own()
            return
        destination = resolve(path)
        if destination is None:
            self._discard_body()
            self._send_json(404, gateway.not_found(self.command, path))
            return
        upstream = gateway.upstreams[destination.function]
        target = destination.path + (f"?{query}" if query else "")
        self._proxy(destination.function, upstream, target)

    def _own_answer(self, path: str) -> Callable[[], None] | None:
        gateway = self.server.gateway
        if path == "/":
            return lambda: self._send_json(200, gateway.index())
        if path in ("/health", "/ready"):
            return lambda: self._send_json(*gateway.probes(path))
        if path == "/openapi.json":
            return lambda: self._send_json(*gateway.openapi())
        if path in (docs.PATH, docs.PATH + "/"):
            page = docs.page(path, title="ToggleMaster")
            return lambda: self._send(200, page.encode(), "text/html; charset=utf-8")
        if path.startswith(docs.PATH + "/"):
            return lambda: self._send_file(path.removeprefix(docs.PATH + "/"))
        return None

    def _send_file(self, name: str) -> None:
        found = docs.file(name)
        if found is None:
            message = f"no file {name!r} here: the page uses {', '.join(docs.FILES)}"
            self._send_json(404, _error(message, "not_found"))
            return
        content, media_type = found
        self._send(200, content, media_type, {"Cache-Control": "max-age=3600"})

    # -- proxying ---------------------------------------------------------------------

    def _proxy(self, function: str, upstream: str, target: str) -> None:
        connection = http.client.HTTPConnection(
            urlsplit(upstream).netloc, timeout=self.server.gateway.timeout
        )
        try:
            failure: Exception | None = None
            try:
                self._forward_request(connection, target)
            except _ClientGone:
                self.close_connection = True
                return
            except _BadChunk:
                self.close_connection = True
                message = "the chunked request body is malformed"
                self._send_json(400, _error(message, "bad_request"))
                return
            except OSError as exc:
                # The function may have stopped reading to answer already (a body over
                # its limit: 413); what it answered, if anything, is read below. The
                # rest of the client's body is left unread, so its connection ends.
                self.close_connection = True
                failure = exc
            try:
                if connection.sock is None:  # never connected: nothing to read
                    raise ConnectionRefusedError(str(failure))
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                self.close_connection = True
                reason = failure or exc
                message = f"{function} is not answering at {upstream} ({reason}): is `make dev` up?"
                self._send_json(502, _error(message, "bad_gateway", function=function))
                return
            self._forward_response(response)
        finally:
            connection.close()

    def _forward_request(self, connection: http.client.HTTPConnection, target: str) -> None:
        connection.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                connection.putheader(name, value)
        connection.putheader("X-Forwarded-For", self.client_address[0])
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif length or self.command in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(length))
        connection.endheaders()
        if chunked:
            for piece in self._chunks_sent():
                connection.send(b"%x\r\n%b\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
            return
        while length > 0:
            piece = self.rfile.read(min(CHUNK, length))
            if not piece:
                raise _ClientGone
            connection.send(piece)
            length -= len(piece)

    def _chunks_sent(self) -> Any:
        """The pieces of a chunked request body, as they arrive (trailers dropped)."""
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadChunk from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return
            remaining = size
            while remaining > 0:
                piece = self.rfile.read(min(CHUNK, remaining))
                if not piece:
                    raise _ClientGone
                remaining -= len(piece)
                yield piece
            self.rfile.readline(1024)

    def _forward_response(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        bodiless = self.command == "HEAD" or response.status in NO_BODY_STATUSES
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        streamed = length is None and not bodiless
        if streamed:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if bodiless:
            return
        while piece := response.read1(CHUNK):
            self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece) if streamed else piece)
        if streamed:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- answering ----------------------------------------------------------------------

    def _discard_body(self) -> None:
        """Read what the client sent, so that its connection can carry the next request."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            try:
                for _ in self._chunks_sent():
                    pass
            except _BadChunk:
                self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            piece = self.rfile.read(min(CHUNK, length))
            if not piece:
                return
            length -= len(piece)

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        payload = json.dumps(body, indent=2).encode() + b"\n"
        self._send(status, payload, "application/json", headers)

    def _send(
        self,
        status: int,
        content: bytes,
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(content)))
        headers_read = getattr(self, "headers", None)  # none when the request line was bad
        request_id = headers_read.get("X-Request-Id") if headers_read is not None else None
        if request_id:
            self.send_header("X-Request-Id", request_id[:64])
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
