"""Errors raised while starting the development stack; each message is one clear line."""

from __future__ import annotations


class DevStackError(Exception):
    """Base class: something the developer has to fix before the stack can start."""


class MissingBinaryError(DevStackError):
    """A server program is not installed."""

    def __init__(self, *, what: str, binary: str, install_hint: str) -> None:
        pronoun = "them" if what.endswith("binaries") else "it"
        super().__init__(f"{what} not found ({binary}): install {pronoun} with `{install_hint}`")
        self.binary = binary


class PortInUseError(DevStackError):
    """A port the stack wants to listen on is taken."""

    def __init__(self, *, port: int, override_hint: str) -> None:
        super().__init__(
            f"port {port} is in use (another `make dev`, or any program: `ss -ltnp"
            f" 'sport = :{port}'` shows which): stop it or {override_hint}"
        )
        self.port = port


class StartupError(DevStackError):
    """A server or function did not become ready in time."""
