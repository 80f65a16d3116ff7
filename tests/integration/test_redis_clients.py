"""The one Redis client factory speaks TLS (`rediss://`) and Redis AUTH, given in the URL
or as REDIS_PASSWORD: against a real redis-server that requires both."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from functions.core.adapters.redis_clients import close_all, redis_client
from functions.core.settings import EvaluationSettings
from functions.devstack.processes import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("redis-server") is None,
    reason="needs openssl and redis-server",
)


@dataclass(frozen=True)
class TlsRedis:
    port: int
    password: str
    ca: Path

    def url(self, password: str | None = None) -> str:
        secret = quote(self.password if password is None else password, safe="")
        return f"rediss://:{secret}@127.0.0.1:{self.port}/0?ssl_ca_certs={self.ca}"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    directory = tmp_path_factory.mktemp("tls-redis")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port, password = free_port(), secrets.token_urlsafe(18) + "@:/"
    server = subprocess.Popen(
        [
            "redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key),
            "--tls-auth-clients", "no", "--requirepass", password, "--save", "",
            "--dir", str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    running = TlsRedis(port, password, cert)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(running.url(), socket_timeout=1).ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "TLS Redis did not start"
                time.sleep(0.1)
        yield running
    finally:
        close_all()
        server.terminate()
        server.wait(10)


def test_redis_client__rediss_url_with_password__answers(tls_redis: TlsRedis) -> None:
    # Given / When the factory's client for a rediss:// URL carrying the password
    client = redis_client(tls_redis.url())
    # Then it speaks TLS and AUTH
    assert client.ping()


def test_redis_client__wrong_password__refused(tls_redis: TlsRedis) -> None:
    # Given / When / Then
    with pytest.raises(redis.AuthenticationError):
        redis_client(tls_redis.url(password="wrong")).ping()


def test_redis_client__plain_redis_scheme_to_a_tls_port__no_connection(
    tls_redis: TlsRedis,
) -> None:
    # Given / When / Then: nothing goes in clear to a TLS server
    client = redis.Redis.from_url(
        f"redis://:{quote(tls_redis.password, safe='')}@127.0.0.1:{tls_redis.port}/0",
        socket_timeout=1,
        socket_connect_timeout=1,
    )
    with pytest.raises(redis.RedisError):
        client.ping()


def test_settings__redis_password_apart__the_factory_connects(tls_redis: TlsRedis) -> None:
    # Given REDIS_URL without the password, and REDIS_PASSWORD
    env = {
        "REDIS_URL": f"rediss://127.0.0.1:{tls_redis.port}/0?ssl_ca_certs={tls_redis.ca}",
        "REDIS_PASSWORD": tls_redis.password,
        "CONFIG_DATABASE_URL": "postgresql://u@127.0.0.1:9/flags",
        "AUTH_DATABASE_URL": "postgresql://u@127.0.0.1:9/auth",
        "AWS_SQS_URL": "http://127.0.0.1:9/queue",
        "GRANT_SECRET": secrets.token_hex(32),
        "EVENTS_SIGNING_SECRET": secrets.token_hex(32),
    }
    # When a function's settings are read
    settings = EvaluationSettings.from_env(env)
    # Then its one REDIS_URL reaches the server
    assert redis_client(settings.redis_url).ping()
