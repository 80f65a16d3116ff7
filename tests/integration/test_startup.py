"""A function refuses to start on bad configuration, naming the variable
(seed report §1.6), with the same server command as the container."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import functions
from functions.devstack.processes import free_port

SOURCE = str(Path(functions.__file__).parent / "main.py")


def _start(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY"))}
    command = [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        SOURCE,
        "--target",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
    ]
    return subprocess.run(
        command, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("target", "env", "variable"),
    [
        ("auth", {"MASTER_KEY": "m" * 16}, "DATABASE_URL"),
        ("auth", {"DATABASE_URL": "mysql://x/y", "MASTER_KEY": "m" * 16}, "DATABASE_URL"),
        (
            "flags",
            {"DATABASE_URL": "postgresql://h/db", "REDIS_URL": "redis://h"},
            "AUTH_SERVICE_URL",
        ),
        (
            "evaluation",
            {
                "REDIS_URL": "redis://h",
                "AUTH_SERVICE_URL": "http://a",
                "FLAG_SERVICE_URL": "http://f",
                "TARGETING_SERVICE_URL": "http://t",
                "AWS_SQS_URL": "http://q",
            },
            "SERVICE_API_KEY",
        ),
    ],
)
def test_server__bad_configuration__exits_naming_variable(
    target: str, env: dict[str, str], variable: str
) -> None:
    # Given / When a function's server starts with a missing or malformed variable
    result = _start(target, env)
    # Then it stops at once, and its error names the variable
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
