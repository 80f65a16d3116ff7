"""A private PostgreSQL cluster for development and tests (never the system one)."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from functions.devstack.errors import DevStackError, StartupError
from functions.devstack.processes import (
    BinaryLookup,
    default_lookup,
    ensure_port_free,
    find_binary,
    tail,
)

logger = logging.getLogger(__name__)

_WHAT = "PostgreSQL server binaries"
_INSTALL = "apt-get install postgresql"
_SUPERUSER = "postgres"
_OS_USER = "postgres"
"""PostgreSQL refuses to run as root: as root we run it as this unprivileged user."""
_CONF_NAME = "devstack.conf"


def database_url(base_url: str, name: str) -> str:
    """``base_url`` with its database (the URL path) replaced by ``name``."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(base_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``base_url`` unless it exists; its URL."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    """Drop database ``name`` (closing its connections); nothing if it does not exist."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


class PrivatePostgres:
    """A cluster in ``data_dir`` listening on 127.0.0.1:``port``, trust auth, user postgres.

    Its Unix socket and log live in ``data_dir``'s parent directory. ``durable=False``
    turns fsync off (tests, dev): fast, and losing the cluster on a crash is fine.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        durable: bool = False,
        log_path: Path | None = None,
        lookup: BinaryLookup = default_lookup,
        start_timeout: int = 30,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.durable = durable
        self.log_path = (log_path or self.data_dir.parent / "postgres.log").absolute()
        self.socket_dir = self.data_dir.parent / "postgres-socket"
        self.start_timeout = start_timeout
        self._lookup = lookup

    @property
    def base_url(self) -> str:
        """URL of the maintenance database ``postgres``."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """Initialise the cluster if needed, start it, wait for connections; the base URL."""
        initdb = self._binary("initdb")
        pg_ctl = self._binary("pg_ctl")
        self._stop_orphan(pg_ctl)
        ensure_port_free(self.port, override_hint="set DATABASE_URL")
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(initdb)
        self._write_settings()
        logger.info("starting PostgreSQL on 127.0.0.1:%d (%s)", self.port, self.data_dir)
        result = self._run(
            pg_ctl, "start", "-D", str(self.data_dir), "-l", str(self.log_path),
            "-w", "-t", str(self.start_timeout),
        )  # fmt: skip
        if result.returncode != 0:
            raise StartupError(
                f"PostgreSQL did not start on port {self.port}: "
                f"{result.stdout.strip()}\n{tail(self.log_path)}"
            )
        return self.base_url

    def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; its URL."""
        return create_database(self.base_url, name)

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions). Safe to call when not running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        pg_ctl = self._binary("pg_ctl")
        result = self._run(pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
        if result.returncode != 0 and self._is_running(pg_ctl):
            logger.warning("pg_ctl stop failed: %s", result.stdout.strip())

    # -- internals ---------------------------------------------------------------------

    def _binary(self, name: str) -> str:
        return find_binary(name, what=_WHAT, install_hint=_INSTALL, lookup=self._lookup)

    def _stop_orphan(self, pg_ctl: str) -> None:
        """A server left running on our data dir by a killed run: stop it to start clean.

        A ``postmaster.pid`` whose process is gone is handled by PostgreSQL itself.
        """
        if (self.data_dir / "PG_VERSION").exists() and self._is_running(pg_ctl):
            logger.warning("stopping a PostgreSQL left running in %s", self.data_dir)
            self._run(pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w")

    def _is_running(self, pg_ctl: str) -> bool:
        return self._run(pg_ctl, "status", "-D", str(self.data_dir)).returncode == 0

    def _prepare_dirs(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(mode=0o755, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        for path in (self.data_dir, self.socket_dir, self.log_path):
            self._give_to_server_user(path)

    def _initdb(self, initdb: str) -> None:
        logger.info("initialising a PostgreSQL cluster in %s", self.data_dir)
        options = ["-D", str(self.data_dir), "-U", _SUPERUSER, "-A", "trust"]
        options += ["-E", "UTF8", "--no-locale"]
        if not self.durable:
            options.append("--no-sync")
        result = self._run(initdb, *options)
        if result.returncode != 0:
            raise StartupError(f"initdb failed in {self.data_dir}: {result.stdout.strip()}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{_CONF_NAME}'\n")

    def _write_settings(self) -> None:
        """Rewritten on every start, so a changed port or socket dir takes effect."""
        socket_dir = str(self.socket_dir).replace("'", "''")
        settings = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{socket_dir}'",
            "max_connections = 200",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        path = self.data_dir / _CONF_NAME
        path.write_text("# written by functions.devstack on every start\n" + "\n".join(settings))
        self._give_to_server_user(path)

    def _give_to_server_user(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        try:
            group = pwd.getpwnam(_OS_USER).pw_gid
        except KeyError:
            raise DevStackError(
                f"PostgreSQL refuses to run as root and there is no `{_OS_USER}` user: "
                f"create it (`{_INSTALL}` does)"
            ) from None
        shutil.chown(path, user=_OS_USER, group=group)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        argv: Sequence[str] = command
        if os.geteuid() == 0:
            argv = ["runuser", "-u", _OS_USER, "--", *command]
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            cwd=self.data_dir.parent,
        )
