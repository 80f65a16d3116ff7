"""A flag's variants: named values that all have the flag's kind.

A boolean flag given no variants gets the seed's pair, ``{"on": true, "off": false}``
with off variant ``off`` and default variant ``on``; every other kind must name its
own. The off variant is served when the flag is disabled or archived, the default
variant when it is enabled without rules (and as the rules' fallthrough by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tests.unit.core.engine.frozen.model import FlagKind, JSONValue
from tests.unit.core.engine.frozen.validation import (
    RuleValidationError,
    child,
    expect_json,
    expect_string,
    is_number,
)

BOOLEAN_VARIANTS: dict[str, JSONValue] = {"on": True, "off": False}
_MAX_NAME_LENGTH = 200

_KIND_CHECKS: dict[FlagKind, tuple[Callable[[object], bool], str]] = {
    FlagKind.BOOLEAN: (lambda value: isinstance(value, bool), "a boolean"),
    FlagKind.STRING: (lambda value: isinstance(value, str), "a string"),
    FlagKind.NUMBER: (is_number, "a number"),
    FlagKind.JSON: (lambda value: True, "a JSON value"),
}


def parse_variants(
    kind: FlagKind, variants: object, off_variant: object, default_variant: object
) -> tuple[dict[str, JSONValue], str, str]:
    """Check every variant value against the kind; returns (variants, off, default).

    Errors name ``$.kind``, ``$.variants.<name>``, ``$.off_variant`` or ``$.default_variant``.
    """
    try:
        kind = FlagKind(kind)
    except ValueError:
        known = ", ".join(member.value for member in FlagKind)
        raise RuleValidationError("$.kind", f"must be one of {known}") from None
    if kind is FlagKind.BOOLEAN and variants is None:
        variants = BOOLEAN_VARIANTS
        off_variant = "off" if off_variant is None else off_variant
        default_variant = "on" if default_variant is None else default_variant
    if not isinstance(variants, Mapping):
        raise RuleValidationError("$.variants", "must be an object")
    if not variants:
        raise RuleValidationError("$.variants", "must not be empty")
    accepts, expected = _KIND_CHECKS[kind]
    checked: dict[str, JSONValue] = {}
    for name, value in variants.items():
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME_LENGTH:
            raise RuleValidationError(
                "$.variants", f"names must be strings of 1 to {_MAX_NAME_LENGTH} characters"
            )
        path = child("$.variants", name)
        if not accepts(value):
            raise RuleValidationError(path, f"must be {expected} for a {kind.value} flag")
        checked[name] = expect_json(value, path)
    return (
        checked,
        _variant_name(off_variant, "$.off_variant", checked),
        _variant_name(default_variant, "$.default_variant", checked),
    )


def _variant_name(value: object, path: str, variants: Mapping[str, JSONValue]) -> str:
    name = expect_string(value, path, max_length=_MAX_NAME_LENGTH)
    if name not in variants:
        raise RuleValidationError(path, f"unknown variant '{name}'")
    return name
