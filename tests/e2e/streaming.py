"""A client that streams a huge request body the way an attacker would, and what a server
process holds in memory: for the body-limit and shutdown tests."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
_PIECE = b"x" * (64 * 1024)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None
    """The answer's status; None when the server closed before one could be read."""
    head: str
    """The answer's status line and headers, lower-cased."""
    body: bytes
    sent: int
    """Body bytes the client got into the connection before the server stopped it."""
    closed: bool
    """Whether the server closed the connection (rather than read the whole body)."""


def stream_body(
    port: int,
    method: str,
    path: str,
    *,
    size: int,
    chunked: bool,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Outcome:
    """Send `size` body bytes (declared with Content-Length, or chunked) as fast as the
    server takes them, reading its answer as soon as it comes; stop when the server
    closes the connection or the whole body is sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(size)}
    fields = {"Host": "127.0.0.1", "Content-Type": "application/json", **framing, **(headers or {})}
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    sock.sendall(head.encode("latin-1") + b"\r\n")
    data = b"%x\r\n%s\r\n" % (len(_PIECE), _PIECE) if chunked else _PIECE
    sock.setblocking(False)
    answer, sent, closed = b"", 0, False
    pending = memoryview(b"")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            writing = sent < size or bool(pending)
            readable, writable, _ = select.select([sock], [sock] if writing else [], [], 0.5)
            if readable:
                chunk = _receive(sock)
                if not chunk:
                    closed = True
                    break
                answer += chunk
            elif writable:
                if not pending:
                    pending = memoryview(data)
                try:
                    taken = sock.send(pending)
                except BlockingIOError:
                    continue
                except OSError:  # reset: the server closed with our bytes unread
                    answer += _receive(sock)
                    closed = True
                    break
                pending = pending[taken:]
                sent += taken * len(_PIECE) // len(data)
            elif not writing:
                if chunked:
                    sock.send(b"0\r\n\r\n")
                    chunked = False
                elif _complete(answer):
                    break
    finally:
        sock.close()
    return _outcome(answer, sent, closed)


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except (BlockingIOError, OSError):
        return b""


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return bool(head)


def _outcome(answer: bytes, sent: int, closed: bool) -> Outcome:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ")
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else None
    return Outcome(status, head.decode("latin-1").lower(), body, sent, closed)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def tcp_client_ports(pids: list[int], server_port: int) -> set[int]:
    """The local ports of the TCP connections that `pids` hold to `server_port` on this
    machine: how a test finds a process's own rows in pg_stat_activity."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports
