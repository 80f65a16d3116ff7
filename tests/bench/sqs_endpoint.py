"""The SQS that `make bench`'s evaluation sends its events to: `SendMessage` over SQS's
JSON protocol, answered as SQS answers it (`MD5OfMessageBody`, which boto3 checks), and
counted, then dropped.

Why not the stack's moto: in production SQS runs on AWS's machines, and sending costs
evaluation's pods only the client's side (boto3 in the server's main process). moto
takes about 4 ms of CPU per 60 KB pack, on the same two cores as the workers, even at
the lowest priority, and measured side by side that alone added 0.2–0.3 × hello's p99
to evaluate's (p99 within 0.1 of a build that sends nothing). This endpoint takes a
few hundred microseconds per message.

It counts what an SQS bill and analytics would see: messages, billed requests (one per
started 64 KiB of a message), and events (a pack's `count`; 1 for any other body).
`GET /counts` answers them.

    python tests/bench/sqs_endpoint.py PORT
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BILLING_CHUNK = 64 * 1024
ACCOUNT = "123456789012"
_PACK_COUNT = re.compile(r'"count":(\d+)')
"""A pack's event count, near the start of its body (`events.packs`)."""


class Counts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages = 0
        self.billed = 0
        self.events = 0

    def add(self, body: str) -> None:
        found = _PACK_COUNT.search(body, 0, 200)
        with self._lock:
            self.messages += 1
            self.billed += max(1, math.ceil(len(body.encode()) / BILLING_CHUNK))
            self.events += int(found.group(1)) if found else 1

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {"messages": self.messages, "billed": self.billed, "events": self.events}


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer is one write; no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        if self.path == "/counts":
            self._answer(200, COUNTS.as_dict())
        else:
            self._answer(404, {"error": f"no {self.path} here; GET /counts"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        if action != "SendMessage":
            self._error("UnsupportedOperation", f"this endpoint takes SendMessage, not {action!r}")
            return
        try:
            message = json.loads(body)["MessageBody"]
        except (ValueError, KeyError, TypeError):
            self._error("InvalidParameterValue", "a SendMessage without a MessageBody")
            return
        COUNTS.add(message)
        digest = hashlib.md5(message.encode(), usedforsecurity=False).hexdigest()
        self._answer(200, {"MD5OfMessageBody": digest, "MessageId": str(uuid.uuid4())})

    def _error(self, kind: str, message: str) -> None:
        self._answer(400, {"__type": f"com.amazonaws.sqs#{kind}", "message": message})

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        head = (
            f"HTTP/1.1 {status} {self.responses[status][0]}\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: a line per message would cost more than the message."""


def queue_url(port: int, name: str) -> str:
    return f"http://127.0.0.1:{port}/{ACCOUNT}/{name}"


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
