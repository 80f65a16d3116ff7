"""A function refuses to start on bad configuration, naming the variable
(seed report §1.6), with the same server command as the container."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from functions.devstack.processes import free_port, venv_script


def _start(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY"))}
    server = {"FUNCTION_TARGET": target, "PORT": str(free_port()), "HOST": "127.0.0.1"}
    return subprocess.run(
        [venv_script("togglemaster-serve")],
        env={**clean, **server, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("target", "env", "variable"),
    [
        ("auth", {"MASTER_KEY": secrets.token_urlsafe(32)}, "DATABASE_URL"),
        (
            "auth",
            {"DATABASE_URL": "mysql://x/y", "MASTER_KEY": secrets.token_urlsafe(32)},
            "DATABASE_URL",
        ),
        (
            "flags",
            {
                "DATABASE_URL": "postgresql://h/db",
                "REDIS_URL": "redis://h",
                "AUTH_DATABASE_URL": "postgresql://h/auth_db",
            },
            "AUTH_SERVICE_URL",
        ),
        (
            "evaluation",
            {
                "REDIS_URL": "redis://h",
                "CONFIG_DATABASE_URL": "postgresql://h/flags_db",
                "AWS_SQS_URL": "http://q",
            },
            "AUTH_DATABASE_URL",
        ),
    ],
)
def test_server__bad_configuration__exits_naming_variable(
    target: str, env: dict[str, str], variable: str
) -> None:
    # Given / When a function's server starts with a missing or malformed variable
    result = _start(target, env)
    # Then it stops at once, before any worker starts, and its error names the variable
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
    assert "worker" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FUNCTION_TARGET": ""}, "FUNCTION_TARGET"),
        ({"FUNCTION_TARGET": "billing"}, "FUNCTION_TARGET"),
        ({"PORT": "eighty"}, "PORT"),
        ({"WORKERS": "0"}, "WORKERS"),
    ],
)
def test_server__bad_server_variable__exits_naming_it(env: dict[str, str], variable: str) -> None:
    # Given / When the server command starts with a bad variable of its own
    result = _start("auth", env)
    # Then it stops at once, and its error names the variable
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
