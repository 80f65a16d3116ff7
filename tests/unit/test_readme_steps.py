"""How the README's walk-through is read and compared (tests/readme_walkthrough.py): a
drifted output must fail, naming the command, and placeholders must stay narrow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.readme_walkthrough import (
    BashSession,
    Step,
    WalkthroughError,
    line_pattern,
    mismatch,
    walkthrough_steps,
)

README = Path(__file__).resolve().parents[2] / "README.md"

FENCE = "```"

DOCUMENT = f"""# Product

## Your first rollout

Create it:

{FENCE}sh
curl -s "$FLAGS_URL/flags" -d '{{"name":"checkout_v2"}}'
{FENCE}

{FENCE}text
{{"id":…,"name":"checkout_v2","created_at":"…"}}
{FENCE}

### A sub-heading stays in the section

{FENCE}sh
export TM_KEY=abc
{FENCE}

The file looks like this (not run):

{FENCE}yaml
version: 1
{FENCE}

## Reference

{FENCE}sh
echo never run
{FENCE}
"""


def test_walkthrough_steps__section_with_commands_and_outputs__steps_in_order() -> None:
    # Given / When
    steps = walkthrough_steps(DOCUMENT)

    # Then
    assert steps == [
        Step(
            command='curl -s "$FLAGS_URL/flags" -d \'{"name":"checkout_v2"}\'',
            expected='{"id":…,"name":"checkout_v2","created_at":"…"}',
            line=8,
        ),
        Step(command="export TM_KEY=abc", expected="", line=18),
    ]


def test_walkthrough_steps__no_such_heading__refused() -> None:
    # Given / When / Then
    with pytest.raises(WalkthroughError, match="no heading"):
        walkthrough_steps(DOCUMENT.replace("Your first rollout", "Quick start"))


def test_walkthrough_steps__output_block_after_prose__refused() -> None:
    # Given: prose between a command and the output meant for it
    document = DOCUMENT.replace(f"{FENCE}\n\n{FENCE}text", f"{FENCE}\n\nIt prints:\n\n{FENCE}text")

    # When / Then
    with pytest.raises(WalkthroughError, match="must follow its ```sh block directly"):
        walkthrough_steps(document)


def test_walkthrough_steps__the_readme__has_the_whole_tour() -> None:
    # Given / When
    steps = walkthrough_steps(README.read_text())

    # Then: the tour's operations are all there, each with the output it prints
    commands = "\n".join(step.command for step in steps)
    for operation in ("/flags", "/rules", "/evaluate", "/promote", "cli export", "cli apply"):
        assert operation in commands
    assert sum(1 for step in steps if step.expected) >= 10


def test_mismatch__same_output__none() -> None:
    # Given
    step = Step("curl flags", '{"id":…,"name":"checkout_v2","created_at":"…"}', 8)

    # When / Then
    assert mismatch(step, '{"id":17,"name":"checkout_v2","created_at":"2026-12-02T17:36Z"}') is None


def test_mismatch__drifted_value__diff_naming_the_command() -> None:
    # Given: the README shows the flag on; the stack prints it off
    step = Step('curl -s -X PUT "$FLAGS_URL/flags/checkout_v2"', '{"id":…,"is_enabled":true}', 40)

    # When
    problem = mismatch(step, '{"id":3,"is_enabled":false}\n')

    # Then
    assert problem is not None
    assert problem.startswith('README.md line 40: curl -s -X PUT "$FLAGS_URL/flags/checkout_v2"')
    assert '-{"id":…,"is_enabled":true}' in problem
    assert '+{"id":3,"is_enabled":false}' in problem


def test_mismatch__matched_lines__shown_as_printed_so_only_differences_stand_out() -> None:
    # Given
    step = Step("make apply", "first …\nsecond line\n1 created (applied)", 1)

    # When
    problem = mismatch(step, "first 42\nsecond line\n0 created (no change)")

    # Then
    assert problem is not None
    assert " first 42" in problem
    assert "-1 created (applied)" in problem
    assert "+0 created (no change)" in problem


@pytest.mark.parametrize(
    ("printed", "why"),
    [
        ("a\nb\nc", "an extra line"),
        ("a", "a missing line"),
        ("", "nothing printed"),
        ("a\nB", "a changed line"),
    ],
)
def test_mismatch__lines_added_missing_or_changed__caught(printed: str, why: str) -> None:
    # Given
    step = Step("cmd", "a\nb", 1)

    # When / Then
    assert mismatch(step, printed) is not None, why


def test_mismatch__no_output_shown__must_print_nothing() -> None:
    # Given
    step = Step("export TM_KEY=abc", "", 1)

    # When / Then
    assert mismatch(step, "\n") is None
    assert mismatch(step, "bash: oops: command not found") is not None


def test_mismatch__trailing_spaces_and_blank_lines__ignored() -> None:
    # Given
    step = Step("cmd", "a\nb", 1)

    # When / Then
    assert mismatch(step, "a  \nb\n\n\n") is None


@pytest.mark.parametrize(
    "value",
    ["0", "-12", "3.5", "1e-3", '"text"', '"with \\"escaped\\" quotes"', "true", "false", "null"],
)
def test_line_pattern__placeholder_as_a_value__matches_one_json_scalar(value: str) -> None:
    # Given / When / Then
    assert line_pattern('{"id":…}').fullmatch(f'{{"id":{value}}}')


@pytest.mark.parametrize(
    "value",
    ['{"a":1}', "[1,2]", '1,"name":"other"', '"a","b"', "", "01", "yes"],
)
def test_line_pattern__placeholder_as_a_value__refuses_anything_wider(value: str) -> None:
    # Given / When / Then
    assert not line_pattern('{"id":…}').fullmatch(f'{{"id":{value}}}')


def test_line_pattern__placeholder_in_a_string__matches_the_rest_of_that_string_only() -> None:
    # Given
    pattern = line_pattern('{"key":"tm_key_…","name":"platform"}')

    # When / Then
    assert pattern.fullmatch('{"key":"tm_key_0f3a","name":"platform"}')
    assert not pattern.fullmatch('{"key":"tm_key_0f3a","x":"y","name":"platform"}')
    assert not pattern.fullmatch('{"key":"other_0f3a","name":"platform"}')


def test_line_pattern__other_characters__literal() -> None:
    # Given / When / Then
    assert line_pattern("0 created (applied) [x] .*").fullmatch("0 created (applied) [x] .*")
    assert not line_pattern("a.b").fullmatch("axb")


def test_bash_session__steps__share_variables_functions_and_files(tmp_path: Path) -> None:
    # Given
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    # When
    with BashSession(tmp_path, env) as shell:
        first = shell.run('NAME=checkout_v2\ngreet() { echo "hello $1"; }\necho saved > f.txt')
        second = shell.run('greet "$NAME"; cat f.txt; echo oops >&2; printf "no newline"')
        third = shell.run("cat")  # reads nothing: standard input is not the next step

    # Then
    assert first == "\n"
    assert second == "hello checkout_v2\nsaved\noops\nno newline\n"
    assert third == "\n"
