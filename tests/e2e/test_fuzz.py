"""Fuzzing every endpoint from its OpenAPI description (DESIGN.md §5: no 5xx).

Each function's own `GET /openapi.json` drives schemathesis: valid and invalid requests
for every operation, each response checked for a server error and against the document
(status code documented, content type, body). The stack is a private one, so the
requests that delete environments, revoke keys and import files touch no other test.

`make test` runs a bounded, derandomized campaign; `make fuzz` (`FUZZ_EXAMPLES=500`) a
longer one with shrinking, so that a failure comes back as its smallest request.
Operations are driven through schemathesis' Python API, not its pytest plugin, whose
`from_fixture` fails on pytest 9.2 (it reads a node's removed `_nodeid`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from functions.core.names import FUNCTIONS
from functions.devstack.stack import DevStack, private_stack

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or 15
"""Generated requests per operation and mode; `make fuzz` raises it."""
CAMPAIGN = "FUZZ_EXAMPLES" in os.environ
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
HYPOTHESIS_PHASES = [hypothesis.Phase.explicit, hypothesis.Phase.generate] + (
    [hypothesis.Phase.shrink] if CAMPAIGN else []
)
Operation = APIOperation[Any, Any, Any, Any]
FUZZ_ORDER = (*(name for name in FUNCTIONS if name != "auth"), "auth")
"""auth last: it revokes and rotates keys by id, the service key among them."""


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[DevStack]:
    """A stack of its own: the fuzzer deletes, revokes and imports at random."""
    with private_stack() as running:
        yield running


def mint_key(stack: DevStack) -> str:
    """A key every endpoint outside `/admin/*` accepts: every scope, every environment."""
    response = requests.post(
        f"{stack.url_of('auth')}/admin/keys",
        json={"name": "fuzzer", "scopes": ["admin", "write", "read", "evaluate"]},
        headers={"Authorization": f"Bearer {stack.master_key}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def key_for(stack: DevStack, operation: Operation) -> str:
    """The master key for `/admin/*`, which revokes and rotates keys by id and must not
    lock itself out; a new key for anything else, in case an earlier operation revoked
    the last one."""
    return stack.master_key if operation.path.startswith("/admin/") else mint_key(stack)


def load_schema(stack: DevStack, function: str) -> schemathesis.BaseSchema:
    """The description `function` serves, aimed at that function."""
    base_url = stack.url_of(function)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    schema.config.update(base_url=base_url)
    return schema


def fuzz_operation(operation: Operation, *, key: str) -> list[str]:
    """Three phases for one operation; for each, the first failing check as text with the
    curl command that repeats it (shrunk to its smallest request in a campaign)."""
    headers = {"Authorization": f"Bearer {key}"}

    def send(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    def cover() -> None:
        """schemathesis' coverage cases: boundaries, wrong types, missing fields, other
        methods; finite and deterministic."""
        schema = operation.schema
        generation = schema.config.generation_for(operation=operation)
        for case in schema.iter_coverage_cases(
            operation, generation_modes=list(MODES), generation_config=generation
        ):
            send(case)

    def generate(mode: GenerationMode) -> Callable[[], None]:
        """`EXAMPLES` requests that hypothesis generates, valid or invalid by `mode`."""

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=HYPOTHESIS_PHASES,
            suppress_health_check=list(hypothesis.HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )
        def generated(case: schemathesis.Case[Any]) -> None:
            send(case)

        return generated

    phases = [("coverage", cover), *((mode.value, generate(mode)) for mode in MODES)]
    failures: list[str] = []
    for phase, run in phases:
        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            pass  # nothing to make invalid: an operation without parameters or body
        except (Exception, BaseExceptionGroup) as exc:  # every failed check, whatever its class
            failures.append(f"{operation.label} ({phase}):\n{exc}")
    return failures


@pytest.mark.parametrize("function", FUZZ_ORDER)
def test_every_operation__fuzzed__answers_without_5xx_as_described(
    function: str, fuzz_stack: DevStack
) -> None:
    # Given: the function's description, and keys that reach every operation
    schema = load_schema(fuzz_stack, function)
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    unreadable = [str(result.err()) for result in results if not isinstance(result, Ok)]

    # When
    failures = [
        text
        for operation in operations
        for text in fuzz_operation(operation, key=key_for(fuzz_stack, operation))
    ]

    # Then
    assert unreadable == []
    assert operations
    assert not failures, "\n\n".join(failures)
