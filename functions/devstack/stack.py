"""The whole local stack: servers, AWS resources, migrations, keys, the five functions.

:class:`DevStack` is what ``python -m functions.devstack`` (``make dev``) runs, with
fixed ports and ``.run/``; tests run it with free ports and a temporary directory.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from types import TracebackType

import requests

from functions.core.names import FUNCTIONS
from functions.devstack.aws import (
    DLQ_SUFFIX,
    counts_table_for,
    ensure_analytics_table,
    ensure_queue,
)
from functions.devstack.aws_state import restore_state, save_state
from functions.devstack.errors import DevStackError, StartupError
from functions.devstack.forwarder import SqsForwarder
from functions.devstack.gateway import Gateway
from functions.devstack.moto import FAKE_CREDENTIALS, MotoServer
from functions.devstack.postgres import PrivatePostgres
from functions.devstack.processes import (
    ChildProcess,
    ensure_port_free,
    free_port,
    suggest_free_port,
    tail,
    venv_script,
    wait_until,
)
from functions.devstack.redis_server import PrivateRedis

logger = logging.getLogger(__name__)

QUEUE_NAME = "togglemaster-evaluation-events"
TABLE_NAME = "ToggleMasterAnalytics"
COUNTS_TABLE_NAME = counts_table_for(TABLE_NAME)
AUTH_DATABASE = "auth_db"
FLAGS_DATABASE = "flags_db"
DEFAULT_REGION = "us-east-1"
FUNCTIONS_SOURCE = Path(__file__).resolve().parent.parent / "main.py"

Migrate = Callable[[str, Sequence[str]], list[str]]


@dataclass(frozen=True)
class DevKey:
    """An API key the stack owns and exports in ``dev.env`` as ``variable``."""

    variable: str
    name: str
    scopes: frozenset[str]


SERVICE_KEY = DevKey("SERVICE_API_KEY", "evaluation-service", frozenset({"read"}))
WALKTHROUGH_KEY = DevKey("TM_KEY", "dev-walkthrough", frozenset({"read", "write", "evaluate"}))
"""The README walk-through's key: flags, rules, segments, import and export, evaluation."""

ProvisionKey = Callable[[str, str, DevKey, str | None], str]
"""(auth database URL, Redis URL, the key, the one the previous start exported or None)
→ the key to export: the kept one while it is still usable, else a new one (the others
of its name revoked; the running functions see that by their version check)."""


@dataclass(frozen=True)
class StackPorts:
    """Where everything listens: the gateway (the one URL) at ``DEV_BASE_PORT``, the
    functions at ``DEV_BASE_PORT`` + 1 … + 5; each can be moved by its own variable
    (:data:`PORT_VARIABLES`). The servers' ports lie below Linux's range for outgoing
    connections (32768–60999): a port there can be held a minute by any client's socket
    in TIME_WAIT, and `make dev` would then refuse to start."""

    postgres: int = 15432
    redis: int = 16379
    moto: int = 14566
    auth: int = 8001
    flags: int = 8002
    targeting: int = 8003
    evaluation: int = 8004
    analytics: int = 8005
    gateway: int = 8000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StackPorts:
        """``DEV_BASE_PORT`` (default 8000) places the gateway and the functions;
        ``DEV_<NAME>_PORT`` moves one of them (``DEV_FLAGS_PORT``, ``DEV_POSTGRES_PORT``)."""
        base = _int_env(env, "DEV_BASE_PORT", 8000)
        defaults = {
            "postgres": cls.postgres,
            "redis": cls.redis,
            "moto": cls.moto,
            **{target: base + offset for offset, target in enumerate(FUNCTIONS, start=1)},
            "gateway": base,
        }
        return cls(
            **{name: _int_env(env, PORT_VARIABLES[name], port) for name, port in defaults.items()}
        )

    def of_function(self, target: str) -> int:
        port: int = getattr(self, target)
        return port


PORT_VARIABLES: dict[str, str] = {
    name: f"DEV_{name.upper()}_PORT" for name in StackPorts.__dataclass_fields__
}
"""The variable that moves each port: ``DEV_GATEWAY_PORT``, ``DEV_FLAGS_PORT``, ..."""


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise StartupError(f"{name} must be a port number, not {value!r}") from None


def function_command(target: str, port: int, source: Path = FUNCTIONS_SOURCE) -> list[str]:
    """The container's server command for one function (`togglemaster-serve`, the image's
    CMD), given its variables as a shell would (`FUNCTION_TARGET=auth ... togglemaster-serve`),
    on 127.0.0.1. WORKERS comes from the process environment, as in the container."""
    return [
        "/usr/bin/env",
        f"FUNCTION_TARGET={target}",
        f"FUNCTION_SOURCE={source}",
        "HOST=127.0.0.1",
        f"PORT={port}",
        venv_script("togglemaster-serve"),
    ]


def load_master_key(path: Path, env: Mapping[str, str]) -> str:
    """``MASTER_KEY`` from the environment, else the one kept in ``path``, else a new one
    stored there (mode 0600) so that it survives restarts."""
    return load_secret(path, env, "MASTER_KEY")


def load_secret(path: Path, env: Mapping[str, str], variable: str) -> str:
    """`variable` from the environment, else the value kept in ``path``, else a new random
    one stored there (mode 0600) so that it survives restarts."""
    if env.get(variable):
        return env[variable]
    if path.exists():
        kept = path.read_text().strip()
        if kept:
            return kept
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    path.chmod(0o600)
    return key


def render_env_file(values: Mapping[str, str]) -> str:
    """Shell-sourceable ``export NAME=value`` lines."""
    lines = ["# written by `make dev`: source .run/dev.env"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def read_env_file(path: Path) -> dict[str, str]:
    """The values of an env file written by :func:`render_env_file` ({} if absent)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, quoted = line.removeprefix("export ").partition("=")
            parsed = shlex.split(quoted)
            values[name] = parsed[0] if parsed else ""
    return values


def _default_migrate(database_url: str, components: Sequence[str]) -> list[str]:
    from functions.commands.migrate import migrate

    return migrate(database_url, components)


def _default_provision_key(
    auth_database_url: str, redis_url: str, key: DevKey, kept: str | None
) -> str:
    from functions.commands.bootstrap import keep_or_provision_key

    return keep_or_provision_key(
        auth_database_url, name=key.name, scopes=key.scopes, kept=kept, redis_url=redis_url
    )


class DevStack:
    """Starts (and stops, in reverse) everything a developer needs, in ``run_dir``.

    ``DATABASE_URL``, ``REDIS_URL`` and ``AWS_ENDPOINT_URL`` in ``env`` replace the
    private PostgreSQL, Redis and moto; values the stack itself wrote to
    ``run_dir/dev.env`` (a sourced file from an earlier run) are not taken as such.
    """

    def __init__(
        self,
        run_dir: Path,
        ports: StackPorts | None = None,
        *,
        env: Mapping[str, str] | None = None,
        region: str = DEFAULT_REGION,
        health_timeout: float = 20.0,
        forwarder_wait_seconds: int = 1,
        migrate: Migrate = _default_migrate,
        provision_key: ProvisionKey = _default_provision_key,
        functions_source: Path = FUNCTIONS_SOURCE,
        keep_aws_state: bool = True,
    ) -> None:
        self.run_dir = run_dir.absolute()
        self.logs_dir = self.run_dir / "logs"
        self.env_file = self.run_dir / "dev.env"
        self.ports = ports or StackPorts()
        self.region = region
        self.health_timeout = health_timeout
        self.forwarder_wait_seconds = forwarder_wait_seconds
        self._env = dict(os.environ if env is None else env)
        self._migrate = migrate
        self._provision_key = provision_key
        self.keep_aws_state = keep_aws_state
        self.aws_state_file = self.run_dir / "moto-state.json"
        self._gateway: Gateway | None = None
        self.functions_source = functions_source
        self._postgres: PrivatePostgres | None = None
        self._redis: PrivateRedis | None = None
        self._moto: MotoServer | None = None
        self._functions: dict[str, ChildProcess] = {}
        self._forwarder_stop = threading.Event()
        self._forwarder_thread: threading.Thread | None = None
        self.auth_database_url = ""
        self.flags_database_url = ""
        self.redis_url = ""
        self.aws_endpoint_url = ""
        self.queue_url = ""
        self.master_key = ""
        self.grant_secret = ""
        self.events_signing_secret = ""
        self.service_key = ""
        self.walkthrough_key = ""

    # -- public ------------------------------------------------------------------------

    def url_of(self, target: str) -> str:
        return f"http://127.0.0.1:{self.ports.of_function(target)}"

    @property
    def keeps_aws_state(self) -> bool:
        """Whether moto's queues and table are saved on stop and restored on start: only
        the stack's own moto, and only when asked (``make dev`` does)."""
        return self.keep_aws_state and self._moto is not None

    @property
    def gateway_url(self) -> str:
        """The one URL: every function behind one address, routed by path."""
        return f"http://localhost:{self.ports.gateway}"

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every evaluation worker holds the newest configuration and keys.

        Evaluation applies a change a few milliseconds after the write returns (its
        notice travels through Redis); a test that writes and evaluates at once calls
        this in between. Each probe is a new connection, so it reaches any worker:
        twelve current answers in a row leave a worker behind with odds under 1 in 2 000.
        """
        import psycopg  # the dev stack's own reading of the versions

        with psycopg.connect(self.flags_database_url) as conn:
            config = conn.execute("SELECT version FROM config_state").fetchone()
        with psycopg.connect(self.auth_database_url) as conn:
            keys = conn.execute("SELECT version FROM key_state").fetchone()
        wanted = (config[0] if config else 0, keys[0] if keys else 0)
        deadline, in_a_row = time.monotonic() + timeout, 0
        while in_a_row < 12:
            if time.monotonic() > deadline:
                raise DevStackError(f"evaluation did not reach versions {wanted} in {timeout} s")
            held = requests.get(
                f"{self.url_of('evaluation')}/status", headers={"Connection": "close"}, timeout=5
            ).json()["snapshot"]
            current = held["config_version"] >= wanted[0] and held["keys_version"] >= wanted[1]
            in_a_row = in_a_row + 1 if current else 0
            if not current:
                time.sleep(0.01)

    def new_key(self, name: str, **fields: object) -> str:
        """A new API key minted with the master key (`fields`: scopes, environment, ...)."""
        response = requests.post(
            f"{self.url_of('auth')}/admin/keys",
            json={"name": name, **fields},
            headers={"Authorization": f"Bearer {self.master_key}"},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["key"])

    @property
    def function_urls(self) -> dict[str, str]:
        return {target: self.url_of(target) for target in FUNCTIONS}

    def start(self) -> None:
        """Start everything; on any failure stop what was started and re-raise."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything this stack started, newest first. Safe to call twice."""
        if self._gateway is not None:
            self._stopping("gateway", self._gateway.stop)
            self._gateway = None
        # First, so it never delivers to an analytics that is already going away; what is
        # still queued stays in SQS for the next run.
        self.pause_forwarder()
        for process in self._functions.values():
            self._stopping(process.name, process.terminate)  # they shut down side by side
        for target in reversed(list(self._functions)):
            self._stopping(target, self._functions.pop(target).stop)
        if self._moto is not None:
            if self.keep_aws_state:
                self._stopping("saving moto's state", self._save_aws_state)
            self._stopping("moto", self._moto.stop)
            self._moto = None
        if self._redis is not None:
            self._stopping("redis", self._redis.stop)
            self._redis = None
        if self._postgres is not None:
            self._stopping("postgres", self._postgres.stop)
            self._postgres = None

    def pause_forwarder(self) -> None:
        """Stop delivering SQS's messages to analytics, and wait until the forwarder has
        stopped: the queue then keeps every event sent, and analytics takes no CPU
        (`make bench`)."""
        self._forwarder_stop.set()
        if self._forwarder_thread is not None:
            self._forwarder_thread.join(timeout=self.forwarder_wait_seconds + 15)
            self._forwarder_thread = None

    @property
    def aws_emulator_pid(self) -> int | None:
        """The process id of the AWS emulator this stack started (None: AWS_ENDPOINT_URL
        named another one)."""
        return self._moto.pid if self._moto is not None else None

    def stop_function(self, target: str) -> None:
        """Stop one function as Kubernetes would (SIGTERM, then wait): for shutdown tests,
        and for `make bench`, which runs its own evaluation instead."""
        self._functions.pop(target).stop()

    def signal_stop(self, target: str) -> None:
        """Send one function SIGTERM without waiting (a test then watches it finish its
        requests); :meth:`stop_function` waits for it afterwards."""
        self._functions[target].terminate()

    def server_pids(self, target: str) -> list[int]:
        """The processes serving `target`: the server's own, then its workers (Linux)."""
        pid = self._functions[target].pid
        if pid is None:
            return []
        workers = (
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        )
        return [pid, *workers]

    def start_function(self, *targets: str) -> None:
        """Start again functions stopped by :meth:`stop_function`, side by side, as the
        stack started them, and wait until each answers `/health`: for restart and
        cold-start tests."""
        running = [target for target in targets if target in self._functions]
        if running:
            raise DevStackError(f"already running: {', '.join(running)}")
        self._start_functions(targets)

    def stop_postgres(self) -> None:
        """Stop the stack's own PostgreSQL (its data stays): for outage tests."""
        self._own_postgres().stop()

    def start_postgres(self) -> None:
        """Start the stack's own PostgreSQL again on its port, with its data."""
        self._own_postgres().start()

    def stop_redis(self) -> None:
        """Stop the stack's own Redis: for outage tests. It keeps nothing (no persistence)."""
        self._own_redis().stop()

    def start_redis(self) -> None:
        """Start the stack's own Redis again on its port, empty."""
        self._own_redis().start()

    def _own_postgres(self) -> PrivatePostgres:
        if self._postgres is None:
            raise DevStackError("PostgreSQL is not the stack's own: it cannot stop or start it")
        return self._postgres

    def _own_redis(self) -> PrivateRedis:
        if self._redis is None:
            raise DevStackError("Redis is not the stack's own: it cannot stop or start it")
        return self._redis

    def dead_functions(self) -> dict[str, int | None]:
        """Functions whose process has exited, with their exit codes."""
        return {
            target: process.returncode()
            for target, process in self._functions.items()
            if not process.is_running()
        }

    def env_values(self) -> dict[str, str]:
        """What ``run_dir/dev.env`` exports: the one URL first."""
        return {
            "TOGGLEMASTER_URL": self.gateway_url,
            "TM_KEY": self.walkthrough_key,
            "MASTER_KEY": self.master_key,
            "SERVICE_API_KEY": self.service_key,
            "AUTH_URL": self.url_of("auth"),
            "FLAGS_URL": self.url_of("flags"),
            "TARGETING_URL": self.url_of("targeting"),
            "EVALUATION_URL": self.url_of("evaluation"),
            "ANALYTICS_URL": self.url_of("analytics"),
            "AUTH_SERVICE_URL": self.url_of("auth"),
            "FLAG_SERVICE_URL": self.url_of("flags"),
            "TARGETING_SERVICE_URL": self.url_of("targeting"),
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_SQS_URL": self.queue_url,
            "AWS_DYNAMODB_TABLE": TABLE_NAME,
            "AWS_DYNAMODB_COUNTS_TABLE": COUNTS_TABLE_NAME,
            "EVENTS_SIGNING_SECRET": self.events_signing_secret,
            "AWS_ACCESS_KEY_ID": self._aws_env()["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": self._aws_env()["AWS_SECRET_ACCESS_KEY"],
            "AUTH_DATABASE_URL": self.auth_database_url,
            "FLAGS_DATABASE_URL": self.flags_database_url,
            "DATABASE_URL": self.flags_database_url,
            "REDIS_URL": self.redis_url,
        }

    def __enter__(self) -> DevStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- start-up steps ----------------------------------------------------------------

    def _start(self) -> None:
        overrides = self._overrides()
        self._check_ports(overrides)
        self._start_postgres(overrides.get("DATABASE_URL"))
        self._start_redis(overrides.get("REDIS_URL"))
        self._start_moto(overrides.get("AWS_ENDPOINT_URL"))
        self._run_migrations()
        self.queue_url = ensure_queue(self.aws_endpoint_url, self.region, QUEUE_NAME)
        ensure_analytics_table(self.aws_endpoint_url, self.region, TABLE_NAME)
        if self.keeps_aws_state:
            self._restore_aws_state()
        self.master_key = load_master_key(self.run_dir / "master_key", self._env)
        self.grant_secret = load_secret(self.run_dir / "grant_secret", self._env, "GRANT_SECRET")
        self.events_signing_secret = load_secret(
            self.run_dir / "events_signing_secret", self._env, "EVENTS_SIGNING_SECRET"
        )
        exported = read_env_file(self.env_file)  # the previous start's keys, to keep
        self.service_key = self._key(SERVICE_KEY, exported.get(SERVICE_KEY.variable))
        self.walkthrough_key = self._key(WALKTHROUGH_KEY, exported.get(WALKTHROUGH_KEY.variable))
        self._start_functions(FUNCTIONS[:3])
        self._start_functions(FUNCTIONS[3:])
        self._start_forwarder()
        self._gateway = Gateway(self.ports.gateway, self.function_urls)
        self._gateway.start()
        self.env_file.write_text(render_env_file(self.env_values()))

    def _overrides(self) -> dict[str, str]:
        """External servers named in the environment, minus our own sourced dev.env."""
        ours = read_env_file(self.env_file)
        overrides: dict[str, str] = {}
        for name in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL"):
            value = self._env.get(name, "")
            if not value:
                continue
            if value == ours.get(name):
                logger.info("ignoring %s: it is the one .run/dev.env exported", name)
                continue
            overrides[name] = value
        return overrides

    def _check_ports(self, overrides: Mapping[str, str]) -> None:
        """Every port the stack will listen on is free, or the error names the variable
        that moves it and a free port to move it to."""
        ours = set(astuple(self.ports))
        servers = {
            "postgres": "DATABASE_URL",
            "redis": "REDIS_URL",
            "moto": "AWS_ENDPOINT_URL",
        }
        for name in ("gateway", *FUNCTIONS, *servers):
            if servers.get(name) in overrides:
                continue
            port = getattr(self.ports, name)
            hint = f"set {PORT_VARIABLES[name]}={suggest_free_port(port, avoid=ours)}"
            if name in servers:
                hint += f" (or {servers[name]} to use a server of your own)"
            else:
                hint += " (or DEV_BASE_PORT to move the gateway and every function)"
            ensure_port_free(port, override_hint=hint)

    def _start_postgres(self, external_url: str | None) -> None:
        if external_url:
            logger.info("using DATABASE_URL for every function")
            self.auth_database_url = self.flags_database_url = external_url
            return
        self._postgres = PrivatePostgres(
            self.run_dir / "postgres",
            self.ports.postgres,
            log_path=self.logs_dir / "postgres.log",
        )
        self._postgres.start()
        self.auth_database_url = self._postgres.create_database(AUTH_DATABASE)
        self.flags_database_url = self._postgres.create_database(FLAGS_DATABASE)

    def _start_redis(self, external_url: str | None) -> None:
        if external_url:
            self.redis_url = external_url
            return
        self._redis = PrivateRedis(
            self.run_dir / "redis",
            self.ports.redis,
            password=secrets.token_urlsafe(24),
            log_path=self.logs_dir / "redis.log",
        )
        self.redis_url = self._redis.start()

    def _start_moto(self, external_url: str | None) -> None:
        if external_url:
            self.aws_endpoint_url = external_url
            return
        self._moto = MotoServer(self.ports.moto, log_path=self.logs_dir / "moto.log")
        self.aws_endpoint_url = self._moto.start()

    def _key(self, key: DevKey, kept: str | None) -> str:
        return self._provision_key(self.auth_database_url, self.redis_url, key, kept)

    def _restore_aws_state(self) -> None:
        restored = restore_state(self.aws_endpoint_url, self.region, path=self.aws_state_file)
        if restored:
            logger.info(
                "moto: restored %s from %s",
                ", ".join(f"{count} in {name}" for name, count in restored.items()),
                self.aws_state_file,
            )

    def _save_aws_state(self) -> None:
        saved = save_state(
            self.aws_endpoint_url,
            self.region,
            queues=[QUEUE_NAME, QUEUE_NAME + DLQ_SUFFIX],
            tables=[TABLE_NAME, COUNTS_TABLE_NAME],
            path=self.aws_state_file,
        )
        logger.info(
            "moto: saved %s to %s",
            ", ".join(f"{count} in {name}" for name, count in saved.items()),
            self.aws_state_file,
        )

    def _run_migrations(self) -> None:
        if self.auth_database_url == self.flags_database_url:
            plan = [(self.auth_database_url, ["auth", "flags", "targeting"])]
        else:
            plan = [
                (self.auth_database_url, ["auth"]),
                (self.flags_database_url, ["flags", "targeting"]),
            ]
        for url, components in plan:
            applied = self._migrate(url, components)
            logger.info(
                "migrations for %s: %s", ", ".join(components), ", ".join(applied) or "none new"
            )

    def _aws_env(self) -> dict[str, str]:
        return {name: self._env.get(name) or default for name, default in FAKE_CREDENTIALS.items()}

    def function_env(self, target: str) -> dict[str, str]:
        """The variables the stack runs `target` with: for a test that starts one more
        server of it (another PORT, WORKERS)."""
        return self._function_env(target)

    def _function_env(self, target: str) -> dict[str, str]:
        common = {
            "PORT": str(self.ports.of_function(target)),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        aws = {"AWS_REGION": self.region, "AWS_ENDPOINT_URL": self.aws_endpoint_url}
        aws |= self._aws_env()
        services = {
            "AUTH_SERVICE_URL": self.url_of("auth"),
            "FLAG_SERVICE_URL": self.url_of("flags"),
            "TARGETING_SERVICE_URL": self.url_of("targeting"),
        }
        # The admin functions run one worker, as their Knative ConfigMap says; evaluation
        # takes WORKERS from the developer's environment, else the machine's cores.
        one_worker = {"WORKERS": "1"}
        signed = {"GRANT_SECRET": self.grant_secret}
        own: dict[str, str] = {
            "auth": {
                **one_worker,
                **signed,
                "DATABASE_URL": self.auth_database_url,
                "MASTER_KEY": self.master_key,
                "REDIS_URL": self.redis_url,
                "CONFIG_DATABASE_URL": self.flags_database_url,
            },
            "flags": {
                **one_worker,
                **signed,
                "DATABASE_URL": self.flags_database_url,
                "AUTH_DATABASE_URL": self.auth_database_url,
                "AUTH_SERVICE_URL": services["AUTH_SERVICE_URL"],
                "REDIS_URL": self.redis_url,
            },
            "targeting": {
                **one_worker,
                **signed,
                "DATABASE_URL": self.flags_database_url,
                "AUTH_DATABASE_URL": self.auth_database_url,
                "AUTH_SERVICE_URL": services["AUTH_SERVICE_URL"],
                "REDIS_URL": self.redis_url,
            },
            "evaluation": {
                **signed,
                "EVENTS_SIGNING_SECRET": self.events_signing_secret,
                "REDIS_URL": self.redis_url,
                "CONFIG_DATABASE_URL": self.flags_database_url,
                "AUTH_DATABASE_URL": self.auth_database_url,
                "AWS_SQS_URL": self.queue_url,
                **aws,
            },
            "analytics": {
                **one_worker,
                **signed,
                "EVENTS_SIGNING_SECRET": self.events_signing_secret,
                "AWS_DYNAMODB_TABLE": TABLE_NAME,
                "AWS_DYNAMODB_COUNTS_TABLE": COUNTS_TABLE_NAME,
                "REDIS_URL": self.redis_url,
                "AUTH_DATABASE_URL": self.auth_database_url,
                "CONFIG_DATABASE_URL": self.flags_database_url,
                **aws,
            },
        }[target]
        return {**self._env, **common, **own}

    def _start_functions(self, targets: Sequence[str]) -> None:
        for target in targets:
            process = ChildProcess(
                target,
                function_command(target, self.ports.of_function(target), self.functions_source),
                log_path=self.logs_dir / f"{target}.log",
                env=self._function_env(target),
            )
            self._functions[target] = process
            process.start()
        for target in targets:
            self._wait_healthy(target)

    def _wait_healthy(self, target: str) -> None:
        process = self._functions[target]
        url = f"{self.url_of(target)}/health"
        try:
            wait_until(
                lambda: _answers_200(url),
                timeout=self.health_timeout,
                what=f"{target} (GET {url})",
                alive=process.is_running,
                interval=0.1,
            )
        except StartupError as exc:
            raise StartupError(
                f"{exc}; last lines of {process.log_path}:\n{tail(process.log_path)}"
            ) from None
        logger.info("%s is up on %s", target, self.url_of(target))

    def _start_forwarder(self) -> None:
        forwarder = SqsForwarder(
            self.queue_url,
            f"{self.url_of('analytics')}/",
            endpoint_url=self.aws_endpoint_url,
            region=self.region,
            wait_seconds=self.forwarder_wait_seconds,
        )
        self._forwarder_stop.clear()
        self._forwarder_thread = threading.Thread(
            target=forwarder.run, args=(self._forwarder_stop,), name="sqs-forwarder", daemon=True
        )
        self._forwarder_thread.start()

    @staticmethod
    def _stopping(name: str, stop: Callable[[], None]) -> None:
        try:
            stop()
        except Exception:
            logger.exception("stopping %s failed", name)


def _answers_200(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        status: int = response.status
        return status == 200


@contextmanager
def private_stack(extra_env: Mapping[str, str] | None = None) -> Iterator[DevStack]:
    """A whole stack on free ports in a fresh directory, never pointed at the machine's
    own servers (tests and benchmarks); `extra_env` reaches every function."""
    run_dir = Path(tempfile.mkdtemp(prefix="togglemaster-stack-"))
    run_dir.chmod(0o755)
    ports = StackPorts(**{name: free_port() for name in StackPorts.__dataclass_fields__})
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "MASTER_KEY")
    }
    try:
        with DevStack(
            run_dir, ports, env={**env, **(extra_env or {})}, keep_aws_state=False
        ) as running:
            yield running
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
