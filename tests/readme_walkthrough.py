"""The README's walk-through as data, the rule that compares its outputs, and a shell
that runs it.

The walk-through is the README section whose heading is ``Your first rollout``, up to
the next heading of the same or a higher level. In it:

- every fenced block opened with ```` ```sh ```` is a step: its commands run, in order,
  in one bash session (variables, functions and files carry over from step to step);
- the ```` ```text ```` block right after it (only blank lines in between) is the output
  that step prints, standard error included; a step without one must print nothing;
- other blocks (```` ```yaml ````, ```` ```json ````, ...) are illustrations, never run.

Outputs are compared line by line, after trailing spaces and trailing blank lines are
dropped. The README shows a volatile value (an id, a key, a timestamp,
``config_version``, ``config_age_ms``) as ``…`` (one character, U+2026), which matches:

- outside a quoted string, exactly one JSON scalar: a string, a number, ``true``,
  ``false`` or ``null`` -- never an object, an array or several values;
- inside a quoted string, the rest of that string's characters only (no ``"``).

Nothing else is loose: every other character must be the same.
"""

from __future__ import annotations

import difflib
import queue
import re
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

HEADING = "Your first rollout"
PLACEHOLDER = "…"
COMMAND_LANGUAGE = "sh"
OUTPUT_LANGUAGE = "text"

_JSON_SCALAR = (
    r'(?:"(?:[^"\\\n]|\\.)*"'
    r"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    r"|true|false|null)"
)
_REST_OF_STRING = r'(?:[^"\\\n]|\\.)*'
_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")


class WalkthroughError(ValueError):
    """The README's walk-through cannot be read as steps (a mistake in the README)."""


@dataclass(frozen=True)
class Step:
    """One ```sh block of the walk-through and the output the README shows for it."""

    command: str
    expected: str
    line: int
    """The README line of the block's first command (1-based), to name it in failures."""

    @property
    def title(self) -> str:
        first = self.command.strip().splitlines()[0] if self.command.strip() else "(empty)"
        return f"README.md line {self.line}: {first}"


@dataclass(frozen=True)
class _Block:
    language: str
    text: str
    line: int
    after_block: bool
    """Only blank lines separate this block from the block before it."""


def walkthrough_steps(markdown: str, heading: str = HEADING) -> list[Step]:
    """The steps of the section titled `heading`, in order."""
    steps: list[Step] = []
    previous: _Block | None = None
    for block in _blocks(_section(markdown, heading)):
        if block.language == COMMAND_LANGUAGE:
            steps.append(Step(block.text, "", block.line))
        elif block.language == OUTPUT_LANGUAGE:
            follows_command = previous is not None and previous.language == COMMAND_LANGUAGE
            if not (follows_command and block.after_block):
                raise WalkthroughError(
                    f"README line {block.line - 1}: an output block must follow its"
                    " ```sh block directly (only blank lines in between)"
                )
            steps[-1] = Step(steps[-1].command, block.text, steps[-1].line)
        previous = block
    if not steps:
        raise WalkthroughError(f"the section '{heading}' has no ```sh blocks")
    return steps


def _section(markdown: str, heading: str) -> list[tuple[int, str]]:
    """The numbered lines under `heading`, up to the next heading of its level or higher
    (lines inside fenced blocks are never taken for headings)."""
    lines = markdown.splitlines()
    start, level, fenced = None, 0, False
    section: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced or _FENCE.match(line) else _HEADING_LINE.match(line)
        if start is None:
            if match and match.group(2) == heading:
                start, level = number, len(match.group(1))
            continue
        if match and len(match.group(1)) <= level:
            break
        section.append((number, line))
    if start is None:
        raise WalkthroughError(f"no heading '{heading}' in the README")
    return section


def _blocks(section: list[tuple[int, str]]) -> list[_Block]:
    blocks: list[_Block] = []
    opened: tuple[str, int] | None = None
    body: list[str] = []
    only_blank_since_block = False
    for number, line in section:
        fence = _FENCE.match(line)
        if opened is None:
            if fence:
                opened, body = (fence.group(1), number + 1), []
            elif line.strip():
                only_blank_since_block = False
            continue
        if fence and not fence.group(1):
            language, first_line = opened
            blocks.append(
                _Block(
                    language, "\n".join(body), first_line, bool(blocks) and only_blank_since_block
                )
            )
            opened, only_blank_since_block = None, True
            continue
        body.append(line)
    if opened is not None:
        raise WalkthroughError(f"line {opened[1] - 1}: a fenced block is never closed")
    return blocks


def normalise(text: str) -> list[str]:
    """The lines compared: trailing spaces and trailing blank lines dropped."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def line_pattern(expected_line: str) -> re.Pattern[str]:
    """The regular expression one shown line stands for (see the module's docstring)."""
    parts: list[str] = []
    in_string = False
    index = 0
    while index < len(expected_line):
        char = expected_line[index]
        if char == "\\" and in_string and index + 1 < len(expected_line):
            parts.append(re.escape(expected_line[index : index + 2]))
            index += 2
            continue
        if char == '"':
            in_string = not in_string
            parts.append('"')
        elif char == PLACEHOLDER:
            parts.append(_REST_OF_STRING if in_string else _JSON_SCALAR)
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts))


def mismatch(step: Step, actual: str) -> str | None:
    """None when `actual` is what the README shows for `step`; else a diff naming the
    command, in which shown lines that did match are replaced by what they matched (so
    only the real differences stand out)."""
    expected_lines, actual_lines = normalise(step.expected), normalise(actual)
    shown = [
        actual_lines[index]
        if index < len(actual_lines) and line_pattern(line).fullmatch(actual_lines[index])
        else line
        for index, line in enumerate(expected_lines)
    ]
    if shown == actual_lines:
        return None
    diff = difflib.unified_diff(
        shown, actual_lines, fromfile="shown in the README", tofile="printed", lineterm=""
    )
    return f"{step.title}\n" + "\n".join(diff)


class BashSession:
    """One bash process that runs the steps one after another, like a terminal would.

    Each step is written to a file and sourced with standard input from /dev/null (so no
    command can swallow the next step), then a marker line tells where its output ends.
    """

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=workdir,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._count = 0

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, command: str, timeout: float = 60.0) -> str:
        """What `command` prints (standard output and error), once it has finished."""
        self._count += 1
        script = self.workdir / f".step-{self._count}.sh"
        script.write_text(command + "\n")
        marker = f"@@step {self._count} done@@"
        assert self._process.stdin is not None
        self._process.stdin.write(f"source {script} </dev/null\nprintf '\\n%s\\n' '{marker}'\n")
        self._process.stdin.flush()
        printed: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"still running after {timeout} s: {command!r}") from None
            if line is None:
                raise RuntimeError(f"bash exited while running {command!r}:\n{''.join(printed)}")
            if line.rstrip("\n") == marker:
                break
            printed.append(line)
        script.unlink()
        return "".join(printed)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> BashSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
