"""`python -m functions.commands.openapi`: write each function's OpenAPI description to
`functions/contracts/openapi/<function>.json` (`make openapi`).

A test compares them with what the functions serve, so a route or model changed
without `make openapi` fails the build instead of leaving clients a stale contract.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from functions.core.names import FUNCTIONS
from functions.http.openapi import render
from functions.http.router import Router

FOLDER = Path(__file__).resolve().parents[1] / "contracts" / "openapi"


def router_of(function: str) -> Router:
    router: Router = importlib.import_module(f"functions.{function}").router
    return router


def expected() -> dict[Path, str]:
    """Each file's path and the text it should hold."""
    return {FOLDER / f"{function}.json": render(router_of(function)) for function in FUNCTIONS}


def write_descriptions() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for path, text in expected().items():
        path.write_text(text)


if __name__ == "__main__":
    write_descriptions()
