"""moto's server mode: local SQS and DynamoDB on one port."""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from functions.devstack.processes import (
    ChildProcess,
    ensure_port_free,
    tail,
    venv_script,
    wait_until,
)

logger = logging.getLogger(__name__)

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""moto accepts any credentials; these are used whenever none are configured."""


def with_fake_credentials(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus moto's fake credentials for the names it does not set."""
    return {**FAKE_CREDENTIALS, **env}


class MotoServer:
    """``moto_server`` (from this virtualenv) as our child on 127.0.0.1:``port``."""

    def __init__(
        self, port: int, *, log_path: Path | None = None, start_timeout: float = 20.0
    ) -> None:
        self.port = port
        self.log_path = log_path or Path.cwd() / f"moto-{port}.log"
        self.start_timeout = start_timeout
        self._process: ChildProcess | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        """Start moto and wait until it answers HTTP; its endpoint URL."""
        binary = venv_script("moto_server")
        ensure_port_free(self.port, override_hint="set AWS_ENDPOINT_URL")
        logger.info("starting moto on 127.0.0.1:%d", self.port)
        process = ChildProcess(
            "moto",
            [binary, "-H", "127.0.0.1", "-p", str(self.port)],
            log_path=self.log_path,
            env=with_fake_credentials(dict(os.environ)),
        )
        self._process = process
        process.start()
        try:
            wait_until(
                self._answers_http,
                timeout=self.start_timeout,
                what=f"moto on port {self.port}",
                alive=process.is_running,
            )
        except Exception as exc:
            self.stop()
            exc.add_note(tail(self.log_path))
            raise
        return self.endpoint_url

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _answers_http(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means the server is up
