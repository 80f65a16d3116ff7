"""Shutdown hooks: run once per process, newest first, a failing one logged; at the end
of a multiprocessing worker (granian's), which leaves without `atexit`, and at exit."""

from __future__ import annotations

import logging
import subprocess
import sys
import types
from collections import defaultdict
from pathlib import Path

import pytest

from functions.http import startup


def test_run_shutdown_hooks__twice__each_hook_once_newest_first(hooks: list[str]) -> None:
    # Given two hooks
    startup.on_shutdown(lambda: hooks.append("first"))
    startup.on_shutdown(lambda: hooks.append("second"))
    # When the hooks are run twice (lifespan shutdown, then exit)
    startup.run_shutdown_hooks()
    startup.run_shutdown_hooks()
    # Then
    assert hooks == ["second", "first"]


def test_run_shutdown_hooks__one_fails__logged_and_the_others_run(
    hooks: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a hook that fails between two that work
    def broken() -> None:
        raise RuntimeError("flush failed")

    startup.on_shutdown(lambda: hooks.append("first"))
    startup.on_shutdown(broken)
    startup.on_shutdown(lambda: hooks.append("third"))
    # When
    with caplog.at_level(logging.ERROR, logger="togglemaster.http"):
        startup.run_shutdown_hooks()
    # Then
    assert hooks == ["third", "first"]
    assert "shutdown hook failed" in caplog.text


_FORKED_WORKER = """
import multiprocessing, sys
from pathlib import Path
from functions.http import startup

def worker(path):
    # A worker as granian runs one: it registers its hooks, serves, returns.
    startup.install_exit_hooks()
    startup.on_shutdown(lambda: Path(path).write_text("flushed"))

process = multiprocessing.get_context("fork").Process(target=worker, args=(sys.argv[1],))
process.start()
process.join(30)
sys.exit(process.exitcode)
"""


def test_install_exit_hooks__multiprocessing_worker_returns__hooks_ran(tmp_path: Path) -> None:
    # Given a worker forked from a fresh process (not from this test session, whose
    # earlier tests leave fork hooks and threads behind), that registered a hook
    marker = tmp_path / "marker"
    # When it returns (and leaves through os._exit, skipping atexit)
    done = subprocess.run(
        [sys.executable, "-c", _FORKED_WORKER, str(marker)], timeout=60, check=False
    )
    # Then its hook ran
    assert done.returncode == 0
    assert marker.read_text() == "flushed"


def test_on_shutdown__interpreter_exits__hooks_ran_once(tmp_path: Path) -> None:
    # Given a process that registers a hook and exits normally
    marker = tmp_path / "marker"
    code = (
        "from functions.http import startup\n"
        f"startup.on_shutdown(lambda: open({str(marker)!r}, 'a').write('x'))\n"
        "startup.install_exit_hooks()\n"
    )
    # When
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    # Then the hook ran, once
    assert marker.read_text() == "x"


def test_close_connections__last_hook__built_values_and_loaded_pools_closed(
    hooks: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a function's getter whose value holds connections, a loaded adapter with
    # pools (another not loaded), and a hook registered after the closing one
    monkeypatch.setattr(startup, "_built", defaultdict(list))

    class Client:
        def close(self) -> None:
            hooks.append("client closed")

    startup.once(Client, owner="stand_in")()
    adapter = types.SimpleNamespace(close_all=lambda: hooks.append("pools closed"))
    monkeypatch.setitem(sys.modules, "functions.core.adapters.db", adapter)
    monkeypatch.delitem(sys.modules, "functions.core.adapters.redis_clients", raising=False)
    startup.on_shutdown(startup.close_connections)
    startup.on_shutdown(lambda: hooks.append("events flushed"))
    # When
    with caplog.at_level(logging.INFO, logger="togglemaster.http"):
        startup.run_shutdown_hooks()
    # Then the flush came first, then the connections were closed, and the log says what
    assert hooks == ["events flushed", "client closed", "pools closed"]
    assert [r.__dict__.get("closed") for r in caplog.records] == [["database pools"]]


def test_shutdown_hooks__as_the_module_starts__closing_the_connections_comes_last() -> None:
    # Given / When / Then: registered first, run last (hooks run newest first)
    assert startup._shutdown_hooks[0] is startup.close_connections
