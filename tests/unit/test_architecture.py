"""Dependencies point one way: the import contracts in pyproject.toml fail on a wrong
import, the engine imports only the standard library and re2, and only the local
development stack may import itself."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.core.names import FUNCTIONS as FUNCTION_NAMES

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
ENGINE = FUNCTIONS / "core" / "engine"
DEVSTACK = FUNCTIONS / "devstack"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

LAYERS = "Each layer imports only the layers below it"
NO_DEVSTACK = "The runtime never imports functions.devstack"
PURE_ENGINE = "The engine imports only itself, the standard library and re2"


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the copy in `project`, which comes first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(project), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the package and of pyproject.toml, to break without touching the real one."""
    shutil.copytree(FUNCTIONS, tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_lint_imports__unchanged_copy__every_contract_kept(project: Path) -> None:
    # Given an unchanged copy of the package

    # When
    result = _lint_imports(project)

    # Then
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (LAYERS, NO_DEVSTACK, PURE_ENGINE):
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        pytest.param(
            "core/stores/flags.py",
            "from functions.core.services import targeting",
            LAYERS,
            id="store imports a service",
        ),
        pytest.param(
            "core/models/flags.py",
            "from functions.core import errors",
            LAYERS,
            id="model imports the errors module",
        ),
        pytest.param(
            "targeting.py", "from functions import flags", LAYERS, id="function imports a sibling"
        ),
        pytest.param(
            "http/router.py",
            "from functions.devstack import processes",
            NO_DEVSTACK,
            id="http imports devstack",
        ),
        pytest.param(
            "core/engine/hashing.py",
            "from functions.core import names",
            PURE_ENGINE,
            id="engine imports a base module",
        ),
        pytest.param(
            "core/engine/rules.py", "import pydantic", PURE_ENGINE, id="engine imports pydantic"
        ),
    ],
)
def test_lint_imports__wrong_import_added__contract_broken(
    project: Path, module: str, wrong_import: str, contract: str
) -> None:
    # Given a copy of the package with one import that breaks a contract
    path = project / "functions" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{wrong_import}\n", encoding="utf-8")

    # When
    result = _lint_imports(project)

    # Then
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield node.lineno, f"{base}.{node.module}" if node.module else base
            else:
                yield node.lineno, node.module or ""


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_engine__every_module__imports_only_stdlib_re2_and_the_engine() -> None:
    # Given every module of the engine
    modules = sorted(ENGINE.rglob("*.py"))
    assert modules

    # When each import is checked
    strays = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in modules
        for line, name in _imported_modules(path)
        if not (
            name.split(".")[0] in sys.stdlib_module_names
            or name == "re2"
            or _within(name, "functions.core.engine")
        )
    ]

    # Then
    assert strays == []


def test_runtime__every_module__imports_neither_devstack_nor_tests() -> None:
    # Given every module of the package outside functions/devstack
    modules = [path for path in sorted(FUNCTIONS.rglob("*.py")) if DEVSTACK not in path.parents]
    assert modules

    # When each import is checked
    strays = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in modules
        for line, name in _imported_modules(path)
        if _within(name, "functions.devstack") or _within(name, "tests")
    ]

    # Then
    assert strays == []


@pytest.mark.parametrize("function", ["analytics"])
def test_function_without_database__imported__no_postgresql_driver_loaded(function: str) -> None:
    # Given a function that reads no PostgreSQL table (a cold start should not pay for one;
    # evaluation reads the configuration and the keys, read-only, for its snapshot)
    probe = f"import sys, functions.{function}; print('psycopg' in sys.modules)"
    # When its module is imported in a fresh interpreter
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    # Then the driver was never imported
    assert loaded == "False"


@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_function__imported__redis_and_yaml_left_for_first_use(function: str) -> None:
    # Given a function's module: redis-py (about 60 ms of imports, its asyncio client
    # included) and PyYAML serve background work, writes' notices and YAML bodies, none
    # of which a cold start's first answer needs
    probe = (
        f"import sys, functions.{function}; print(sorted({{'redis', 'yaml'}} & set(sys.modules)))"
    )
    # When its module is imported in a fresh interpreter
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    # Then neither was loaded
    assert loaded == "[]"
