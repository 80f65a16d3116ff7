"""The image holds what runs: the build context leaves the development stack, tests and
local state out, the wheel carries no functions/devstack nor tests, the Dockerfile
builds in two stages onto a pinned base, installs every dependency from the lock file
(hash-checked) and runs as a non-root user.

No Docker engine is needed: .dockerignore is read with Docker's rules (the last pattern
matching a path or one of its parent folders decides), and the wheel is built by pip."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from functions.devstack.stack import function_command

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` and `?` stay within a folder, `**` spans any."""
    out, index = [], 0
    while index < len(text):
        if text.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif text.startswith("**", index):
            out.append(".*")
            index += 2
        elif text[index] == "*":
            out.append("[^/]*")
            index += 1
        elif text[index] == "?":
            out.append("[^/]")
            index += 1
        elif text[index] == "[":
            end = text.index("]", index)
            out.append("[" + text[index + 1 : end].replace("!", "^", 1) + "]")
            index = end + 1
        else:
            out.append(re.escape(text[index]))
            index += 1
    return re.compile("".join(out) + r"\Z")


def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(is an exception, pattern) for each line of .dockerignore, in order."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    return rules


def _in_context(path: str) -> bool:
    """Whether Docker sends `path` (relative to the repository) in the build context."""
    parts = path.split("/")
    candidates = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
    included = True
    for negated, pattern in _rules():
        if any(pattern.match(candidate) for candidate in candidates):
            included = negated
    return included


@pytest.mark.parametrize(
    "path",
    [
        "functions/devstack/__init__.py",
        "functions/devstack/stack.py",
        "tests/conftest.py",
        "tests/unit/test_image.py",
        ".venv/bin/python",
        ".run/dev.env",
        ".git/HEAD",
        ".mypy_cache/3.11/cache.db",
        ".ruff_cache/CACHEDIR.TAG",
        ".pytest_cache/README.md",
        ".hypothesis/examples/x",
        ".benchmarks/run.json",
        ".import_linter_cache/graph.data",
        "functions/core/__pycache__/errors.cpython-311.pyc",
        "functions/core/engine/rules.pyc",
        "knative/base/auth.yaml",
        "events/evaluation-event.schema.json",
        "togglemaster.egg-info/SOURCES.txt",
        "build/lib/functions/main.py",
        "dist/togglemaster-0.1.0-py3-none-any.whl",
        "docker-compose.yml",
        "Makefile",
    ],
)
def test_dockerignore__path_not_needed_by_the_image__left_out_of_the_context(path: str) -> None:
    # Given the path above

    # When
    sent = _in_context(path)

    # Then
    assert not sent


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "functions/main.py",
        "functions/core/engine/rules.py",
        "functions/contracts/config-document.schema.json",
        "sql/flags/001_flags.sql",
        "knative/image/requirements.lock",
    ],
)
def test_dockerignore__path_the_build_needs__sent_in_the_context(path: str) -> None:
    # Given the path above

    # When
    sent = _in_context(path)

    # Then
    assert sent


def test_dockerfile__copy_sources__all_in_the_context() -> None:
    # Given every COPY from the build context (not from another stage)
    sources = [
        source
        for line in DOCKERFILE.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for source in line.split()[1:-1]
    ]
    assert sources

    # When / Then each is sent
    assert [source for source in sources if not _in_context(source.rstrip("/"))] == []


def test_dockerfile__stages__pinned_base_locked_dependencies_non_root_and_sql_dir() -> None:
    # Given the Dockerfile's base image and stages
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", DOCKERFILE, re.MULTILINE)
    build, runtime = DOCKERFILE.split(" AS runtime", 1)

    # Then the base is one exact Python patch release, shared by a build and a runtime
    # stage; the build installs the lock file's wheels, each checked against its hash, then
    # the project without resolving anything; the runtime copies that virtualenv, copies
    # the migrations where TOGGLEMASTER_SQL_DIR points, loads main.py from the installed
    # package, and runs as a numeric non-root user
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base[1])
    assert stages == [("${PYTHON_IMAGE}", "build"), ("${PYTHON_IMAGE}", "runtime")]
    assert "COPY knative/image/requirements.lock /tmp/requirements.lock" in build
    assert re.search(
        r"pip install --require-hashes --only-binary=:all: \\\s+-r /tmp/requirements.lock", build
    )
    assert "pip install --no-deps ." in build
    assert "COPY --from=build /opt/togglemaster /opt/togglemaster" in runtime
    assert "PATH=/opt/togglemaster/bin:$PATH" in runtime
    assert "TOGGLEMASTER_SQL_DIR=/app/sql" in runtime
    assert re.search(r"^WORKDIR /app$", runtime, re.MULTILINE)
    assert re.search(r"^COPY sql \./sql$", runtime, re.MULTILINE)
    assert (
        "FUNCTION_SOURCE=/opt/togglemaster/lib/python3.11/site-packages/functions/main.py"
        in runtime
    )
    user = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("0", "root")


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name → (pinned version, hashes) of knative/image/requirements.lock."""
    text = (ROOT / "knative/image/requirements.lock").read_text(encoding="utf-8")
    locked: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            name = canonicalize_name(match[1])
            locked[name] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return locked


def test_lock__every_runtime_dependency__pinned_within_its_range_with_hashes() -> None:
    # Given pyproject.toml's runtime dependencies and the lock file
    declared = [
        Requirement(text)
        for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ]
    locked = _locked()

    # When each is looked up in the lock
    missing = [r.name for r in declared if canonicalize_name(r.name) not in locked]
    outside = [
        f"{r.name}=={locked[canonicalize_name(r.name)][0]} not in {r.specifier}"
        for r in declared
        if canonicalize_name(r.name) in locked
        and not r.specifier.contains(locked[canonicalize_name(r.name)][0], prereleases=True)
    ]

    # Then every one is pinned, within its range (else: make lock), and every pin of the
    # lock carries at least one hash
    assert missing == [], "run make lock"
    assert outside == [], "run make lock"
    assert all(hashes for _, hashes in locked.values())
    assert len(locked) > len(declared)


def test_dockerfile__command__the_server_command_make_dev_runs() -> None:
    # Given the runtime stage's command and environment
    runtime = DOCKERFILE.split(" AS runtime", 1)[1]
    commands = re.findall(r"^CMD (.+)$", runtime, re.MULTILINE)

    # Then it is togglemaster-serve, as the dev stack's, sized by WORKERS from outside
    # (a baked-in WORKERS would hide a manifest that forgot it)
    assert commands == ['["togglemaster-serve"]']
    assert function_command("auth", 8001)[-1].endswith("/togglemaster-serve")
    assert "PORT=8080" in runtime
    assert not re.search(r"^\s+(WORKERS|THREADS)=", runtime, re.MULTILINE)


def test_wheel__built_from_the_source_tree__no_devstack_and_no_tests(tmp_path: Path) -> None:
    # Given a copy of the project as `pip install .` sees it, devstack and tests included
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "functions", project / "functions", ignore=ignore)
    shutil.copytree(ROOT / "tests", project / "tests", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)

    # When the wheel is built
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    # Then it holds the functions and their data, and nothing of devstack or tests
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("togglemaster-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "functions/main.py" in names
    assert "functions/core/engine/rules.py" in names
    assert "functions/contracts/config-document.schema.json" in names
    assert [name for name in names if name.startswith(("functions/devstack/", "tests/"))] == []
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "togglemaster-serve = functions.serve:main" in scripts
