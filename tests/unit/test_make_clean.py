"""`make clean` removes everything the stack and the tools create: every name .gitignore
lists (the stack's .run/, the virtualenv, each tool's cache, builds), and nothing else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ignored_names() -> list[str]:
    """What .gitignore lists: the names tools and the stack create in the work tree."""
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean__everything_gitignore_lists_created__all_removed_sources_kept(
    tmp_path: Path,
) -> None:
    # Given a work tree holding what the stack and every tool leave behind
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "functions" / "core").mkdir(parents=True)
    (tmp_path / "functions" / "core" / "routes.py").write_text("# a source\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    created = [tmp_path / name.replace("*", "togglemaster") for name in _ignored_names()]
    created.append(tmp_path / "functions" / "core" / "__pycache__")
    for path in created:
        path.mkdir(parents=True, exist_ok=True)
        (path / "left-behind").write_text("x")
    # When
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    # Then what was created is gone, nested caches included; the sources are kept
    assert [str(path.relative_to(tmp_path)) for path in created if path.exists()] == []
    assert (tmp_path / "functions" / "core" / "routes.py").exists()
    assert (tmp_path / ".git" / "HEAD").exists()
    assert (tmp_path / "Makefile").exists()
