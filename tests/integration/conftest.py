"""Function apps under test: functions-framework's own app for a target, with its
settings taken from the environment the test gives."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path

import flask
import functions_framework
import pytest
from flask.testing import FlaskClient

import functions
from functions.core import cache, db

SOURCE = str(Path(functions.__file__).parent / "main.py")

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]


def _reset(target: str) -> None:
    module = importlib.import_module(f"functions.{target}")
    for name in ("settings", "service", "auth_client", "store", "publisher"):
        getter = getattr(module, name, None)
        if getter is not None and hasattr(getter, "cache_clear"):
            getter.cache_clear()


@pytest.fixture
def function_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """``function_client("auth", {"DATABASE_URL": ...})`` → a test client of that target."""
    used: list[str] = []

    def make(target: str, env: dict[str, str]) -> FlaskClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _reset(target)
        used.append(target)
        app: flask.Flask = functions_framework.create_app(target, SOURCE)  # type: ignore[no-untyped-call]
        return app.test_client()

    yield make
    for target in used:
        _reset(target)
    db.close_all()
    cache.close_all()
