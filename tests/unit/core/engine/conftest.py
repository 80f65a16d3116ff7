"""Shared flags for the engine tests: a seed-style boolean flag and a three-colour one."""

from __future__ import annotations

import pytest

from functions.core.engine import FlagDefinition, FlagKind, boolean_definition

COLOURS = FlagDefinition(
    key="checkout-colour",
    kind=FlagKind.STRING,
    variants={"blue": "#00f", "green": "#0f0", "red": "#f00"},
    off_variant="red",
    default_variant="blue",
)


@pytest.fixture
def colours() -> FlagDefinition:
    return COLOURS


@pytest.fixture
def seed_flag() -> FlagDefinition:
    return boolean_definition("new-checkout")
