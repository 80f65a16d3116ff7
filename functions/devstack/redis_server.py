"""A private Redis for development and tests (never the system one)."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import redis

from functions.devstack.processes import (
    BinaryLookup,
    ChildProcess,
    default_lookup,
    ensure_port_free,
    find_binary,
    tail,
    wait_until,
)

logger = logging.getLogger(__name__)


class PrivateRedis:
    """``redis-server`` as our child on 127.0.0.1:``port``, no persistence, files in ``dir``.

    With a ``password`` it requires AUTH (``--requirepass``) and its URL carries the
    password (``redis://:<password>@127.0.0.1:<port>/0``), as a deployment's REDIS_URL
    would: whoever gets the URL gets the password, nobody else."""

    def __init__(
        self,
        dir: Path,
        port: int,
        *,
        password: str | None = None,
        log_path: Path | None = None,
        lookup: BinaryLookup = default_lookup,
        start_timeout: float = 10.0,
    ) -> None:
        self.dir = dir.absolute()
        self.port = port
        self.password = password
        self.log_path = (log_path or self.dir / "redis.log").absolute()
        self.start_timeout = start_timeout
        self._lookup = lookup
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start the server and wait until it answers PING; its URL."""
        binary = find_binary(
            "redis-server",
            what="Redis server binary",
            install_hint="apt-get install redis-server",
            lookup=self._lookup,
        )
        ensure_port_free(self.port, override_hint="set REDIS_URL")
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
        ]  # fmt: skip
        if self.password:  # on the command line: a development server, on 127.0.0.1
            command += ["--requirepass", self.password]
        logger.info("starting Redis on 127.0.0.1:%d", self.port)
        process = ChildProcess("redis", command, log_path=self.log_path)
        self._process = process
        process.start()
        try:
            wait_until(
                self._answers_ping,
                timeout=self.start_timeout,
                what=f"Redis on port {self.port}",
                alive=process.is_running,
            )
        except Exception as exc:
            self.stop()
            exc.add_note(tail(self.log_path))
            raise
        return self.url

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _answers_ping(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
