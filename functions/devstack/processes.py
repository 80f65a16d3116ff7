"""Process plumbing shared by the private servers: binaries, ports, waiting, stopping."""

from __future__ import annotations

import contextlib
import ctypes
import glob
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from functions.devstack.errors import MissingBinaryError, PortInUseError, StartupError

logger = logging.getLogger(__name__)

BinaryLookup = Callable[[str], str | None]
"""Finds a program by name (like ``shutil.which``); tests pass a lookup that finds nothing."""

_PR_SET_PDEATHSIG = 1


def default_lookup(name: str) -> str | None:
    """Search ``PATH``, then the Debian PostgreSQL layout (newest version first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: _version_key(Path(path).parent.parent.name),
        reverse=True,
    )
    return next((path for path in candidates if os.access(path, os.X_OK)), None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_binary(
    name: str, *, what: str, install_hint: str, lookup: BinaryLookup = default_lookup
) -> str:
    """Return the path of ``name`` or raise a one-line :class:`MissingBinaryError`."""
    path = lookup(name)
    if path is None:
        raise MissingBinaryError(what=what, binary=name, install_hint=install_hint)
    return path


def venv_script(name: str) -> str:
    """A console script installed next to the running interpreter (the virtualenv's bin)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise MissingBinaryError(
            what=f"the {name} program", binary=name, install_hint="pip install -e '.[dev]'"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could bind ``host:port`` (servers set SO_REUSEADDR, so do we)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def suggest_free_port(taken: int, *, avoid: Iterable[int] = ()) -> int:
    """A free port near `taken` (above it, skipping `avoid`), to suggest in an error;
    `taken` + 100 when none of the next hundred is free."""
    skipped = set(avoid)
    for port in range(taken + 1, min(taken + 100, 65535) + 1):
        if port not in skipped and port_is_free(port):
            return port
    return min(taken + 100, 65535)


def ensure_port_free(port: int, *, override_hint: str) -> None:
    """Raise :class:`PortInUseError` (naming how to avoid the clash) when ``port`` is taken."""
    if not port_is_free(port):
        raise PortInUseError(port=port, override_hint=override_hint)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.05,
) -> None:
    """Poll ``check`` until it is true; fail early when ``alive`` says the process died."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if check():
                return
        if not alive():
            raise StartupError(f"{what} exited during start-up")
        if time.monotonic() >= deadline:
            raise StartupError(f"{what} was not ready after {timeout:g} s")
        time.sleep(interval)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """Runs in the child before exec: get SIGTERM if the parent dies (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """A server run as our child, in its own session so Ctrl-C reaches only us.

    Its output goes to ``log_path``; on Linux it is terminated if we are killed.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._terminated = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._terminated = False
        logger.debug("starting %s: %s", self.name, " ".join(self.command))
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    def terminate(self) -> None:
        """Send SIGTERM without waiting (see :meth:`stop`)."""
        if self._process is not None and self._process.poll() is None and not self._terminated:
            self._process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            if not self._terminated:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s ignored SIGTERM for %g s: killing it", self.name, timeout)
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
