"""SQS sends made by the server's main process on behalf of its workers.

A worker process serves requests on one thread, and its event sender shares that
thread's GIL. Sealing a pack is cheap (most of zlib runs outside the GIL), but boto3's
`send_message` is about 2 ms of Python, in slices of up to the interpreter's switch
interval, and every request that waits for the GIL meanwhile waits for it: measured
side by side under load, sending from the worker costs evaluation about a third of
its p99 and several percent of its throughput. The main process of `togglemaster-serve`
(granian's, which forks the workers and then only watches them) sits idle with a GIL
of its own, so it sends for them:

- `EventRelay`, started there before the fork, listens on a Unix socket in a private
  directory (mode 0700: only the same user reaches it) and, for each worker connection,
  reads sealed message bodies and sends each with the one SQS client, answering
  whether SQS took it;
- `RelaySender`, the worker's `Sender`, writes a body and waits for that answer, so the
  worker's publisher keeps all it did before: the pack it keeps until it is accepted,
  backoff, counts, `stats()`, metrics and the flush on SIGTERM. A relay that does not
  answer is a failed send, retried like any other (the pack keeps its id: a body SQS
  took after all is a redelivery, which analytics absorbs).

On the wire, both ways: a 4-byte big-endian length, then that many bytes. A request
is the body (UTF-8); the answer is empty when SQS accepted it, else the error, as
`ClassName: message`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Sender = Callable[[str], None]

MAX_FRAME_BYTES = 1024 * 1024
"""Far above SQS's 256 KiB message: a larger frame is not a body, and closes the
connection."""
ANSWER_TIMEOUT_SECONDS = 45.0
"""How long a worker waits for the relay's answer: above boto3's worst case for one
send here (3 attempts of a 3 s connect and a 10 s read, `adapters.aws`)."""
_LENGTH = struct.Struct(">I")
SOCKET_NAME = "events.sock"


class RelayError(Exception):
    """The relay answered that SQS refused the body (`kind`: the error's class there)."""

    def __init__(self, answer: str) -> None:
        kind, _, message = answer.partition(": ")
        super().__init__(message or kind)
        self.kind = kind


def write_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def read_frame(sock: socket.socket) -> bytes | None:
    """The next frame; None when the peer closed the connection between frames."""
    head = _read_exactly(sock, _LENGTH.size)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {length} bytes is larger than {MAX_FRAME_BYTES}")
    payload = _read_exactly(sock, length) if length else b""
    if payload is None:
        raise ConnectionError("the connection closed in the middle of a frame")
    return payload


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    parts: list[bytes] = []
    left = size
    while left:
        chunk = sock.recv(min(left, 262_144))
        if not chunk:
            if left == size:
                return None
            raise ConnectionError("the connection closed in the middle of a frame")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


class EventRelay:
    """Sends the bodies its workers write (see the module's doc). `make_sender` builds the
    real sender on the first body, so that boto3 is neither imported nor configured
    before the workers are forked (a cold start does not wait for it)."""

    def __init__(self, make_sender: Callable[[], Sender]) -> None:
        self._make_sender = make_sender
        self._sender: Sender | None = None
        self._sender_lock = threading.Lock()
        self._directory = tempfile.mkdtemp(prefix="togglemaster-events-")
        self.path = os.path.join(self._directory, SOCKET_NAME)
        self._owner = os.getpid()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(64)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="event-relay", daemon=True)
        self._thread.start()

    def is_own_process(self) -> bool:
        """Whether this is the process that listens (else a worker forked from it)."""
        return os.getpid() == self._owner

    def close(self) -> None:
        """Stop listening and remove the socket (in the process that made it only: a
        forked worker inherits the object, not the job)."""
        if self._closed or not self.is_own_process():
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                if self._closed:
                    return
                continue
            threading.Thread(
                target=self._serve, args=(connection,), name="event-relay-worker", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        """One worker's bodies, one at a time, until it hangs up."""
        with connection:
            while True:
                try:
                    body = read_frame(connection)
                except (OSError, ValueError) as exc:
                    log.warning("event relay: a worker's connection failed: %s", exc)
                    return
                if body is None:
                    return
                answer = self._send(body)
                try:
                    write_frame(connection, answer)
                except OSError:
                    return

    def _send(self, body: bytes) -> bytes:
        try:
            self._sending()(body.decode("utf-8"))
        except Exception as exc:
            return f"{exc.__class__.__name__}: {str(exc)[:300]}".encode()
        return b""

    def _sending(self) -> Sender:
        with self._sender_lock:
            if self._sender is None:
                self._sender = self._make_sender()
            return self._sender


class RelaySender:
    """A worker's `Sender`: the body goes to the relay at `path`, which sends it. Raises
    when it was not accepted: `RelayError` for SQS's refusal, `OSError` when the relay
    could not be reached or did not answer in time."""

    def __init__(self, path: str, timeout: float = ANSWER_TIMEOUT_SECONDS) -> None:
        self.path = path
        self._timeout = timeout
        self._socket: socket.socket | None = None
        self._pid = os.getpid()

    def __call__(self, body: str) -> None:
        connection = self._connected()
        try:
            write_frame(connection, body.encode("utf-8"))
            answer = read_frame(connection)
        except (OSError, ValueError):
            self.close()  # a late answer would be taken for the next body's
            raise
        if answer is None:
            self.close()
            raise ConnectionError("the event relay closed the connection")
        if answer:
            raise RelayError(answer.decode("utf-8", "replace"))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _connected(self) -> socket.socket:
        if self._pid != os.getpid():  # forked: the parent's connection is the parent's
            self._socket, self._pid = None, os.getpid()
        if self._socket is None:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.settimeout(self._timeout)
            try:
                connection.connect(self.path)
            except OSError:
                connection.close()
                raise
            self._socket = connection
        return self._socket
