"""Talking to each evaluation worker process on its own, for the snapshot tests.

granian runs `WORKERS` processes behind one port, and a connection stays with the
worker that accepted it: a keep-alive connection whose `GET /status` names a pid is a
line to that worker. A worker's answers only count as long as that connection was
never reopened (a reopened one may have reached the other worker), so every request
checks that it went over the socket the pid was read on.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

Answer = tuple[int, dict[str, Any]]


class WorkerLine:
    """One keep-alive connection to one evaluation worker process."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = self.connection.sock
        self.pid = int(self.get("/status")[1]["pid"])

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        self.connection.request(method, path, body=payload, headers=sent)
        response = self.connection.getresponse()
        raw = response.read()
        assert self.connection.sock is self._socket, "the connection to a worker was reopened"
        return response.status, (json.loads(raw) if raw else {})

    def status(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.get("/status")[1]["snapshot"]
        return snapshot

    def close(self) -> None:
        self.connection.close()


def worker_lines(port: int, workers: int, *, attempts: int = 64) -> list[WorkerLine]:
    """One line to each of the `workers` processes serving `port`."""
    lines: dict[int, WorkerLine] = {}
    for _ in range(attempts):
        line = WorkerLine(port)
        if line.pid in lines:
            line.close()
        else:
            lines[line.pid] = line
        if len(lines) == workers:
            return list(lines.values())
    for line in lines.values():
        line.close()
    raise AssertionError(f"{attempts} connections reached only the workers {sorted(lines)}")


def close_all(lines: list[WorkerLine]) -> None:
    for line in lines:
        line.close()


def evaluate_path(flag: str, user_id: str, **attributes: str) -> str:
    return "/evaluate?" + urlencode({"flag_name": flag, "user_id": user_id, **attributes})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.02
) -> float:
    """Seconds until `check()` held; fails naming `what` after `timeout`."""
    started = time.monotonic()
    while not check():
        waited = time.monotonic() - started
        assert waited < timeout, f"{what}: not within {timeout:g} s"
        time.sleep(interval)
    return time.monotonic() - started
