"""The README's "Your first rollout", run from the README itself on a fresh stack: every
```sh block in order, in one bash, each output compared with the ```text block the
README shows after it (the rule: tests/readme_walkthrough.py). So the README cannot
drift from what ToggleMaster does."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from functions.devstack.stack import DevStack
from tests.e2e.conftest import StackStarter
from tests.readme_walkthrough import BashSession, mismatch, walkthrough_steps

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _checkout(workdir: Path, stack: DevStack) -> Path:
    """A directory that looks like the repository after `make dev`, as far as the
    walk-through can tell: the virtualenv (linked) and `.run/dev.env` as this stack wrote
    it. No Makefile: a `make` target could reinstall the shared virtualenv from here."""
    (workdir / ".venv").symlink_to(Path(sys.prefix))
    (workdir / ".run").mkdir()
    shutil.copy(stack.env_file, workdir / ".run" / "dev.env")
    return workdir


def _terminal_env(home: Path) -> dict[str, str]:
    """A new terminal's environment: none of the test session's variables (a `make`
    level, database URLs, keys) leak into the walk-through."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "TERM": "dumb",
    }


def test_readme_walkthrough__run_in_order_on_a_fresh_stack__prints_what_the_readme_shows(
    start_stack: StackStarter, tmp_path: Path
) -> None:
    # Given: the README's steps, and a stack started the way `make dev` starts it
    steps = walkthrough_steps(README.read_text(encoding="utf-8"))
    home = tmp_path / "home"
    home.mkdir()
    workdir = tmp_path / "togglemaster"
    workdir.mkdir()
    failures: list[str] = []
    with (
        start_stack({}) as stack,
        BashSession(_checkout(workdir, stack), _terminal_env(home)) as shell,
    ):
        # When: each step runs once evaluation holds every earlier change (a person
        # typing is slower than a change notice)
        for step in steps:
            stack.settle()
            problem = mismatch(step, shell.run(step.command))
            if problem:
                failures.append(problem)

    # Then
    assert not failures, f"{len(failures)} of {len(steps)} steps differ:\n\n" + "\n\n".join(
        failures
    )
