"""The engine's value types: what a flag is, and what an evaluation answers.

They are plain frozen dataclasses with no behaviour beyond construction, so that the
stores can map rows onto them and the functions can serialise them without the engine
knowing about either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None


class FlagKind(StrEnum):
    """The type every variant value of a flag must have."""

    BOOLEAN = "boolean"
    STRING = "string"
    NUMBER = "number"
    JSON = "json"


class Reason(StrEnum):
    """Why a value was served; names follow OpenFeature where it has one."""

    DISABLED = "DISABLED"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DEFAULT = "DEFAULT"
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    ERROR = "ERROR"
    PREREQUISITE_FAILED = "PREREQUISITE_FAILED"
    """A flag this one requires did not serve a listed variant: the off variant is served
    (LaunchDarkly's name; OFREP has no such reason, see the OFREP mapping)."""


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    """A flag's key, kind and variants; checked by `parse_variants` before it gets here."""

    key: str
    kind: FlagKind
    variants: Mapping[str, JSONValue]
    off_variant: str
    default_variant: str
    archived: bool = False
    served: dict[tuple[str, Reason, int | None, str | None], Resolution] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """The resolutions this flag has served, by variant, reason and rule: a flag serves
    a handful of distinct answers, and building one (a frozen value of eight fields)
    costs more than the rest of a decision (see `engine.evaluation._variant`)."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of one evaluation: always a value, never an exception."""

    value: JSONValue
    variant: str | None
    reason: Reason
    rule_index: int | None = None
    """The position of the rule that decided (TARGETING_MATCH, or SPLIT by a rule)."""
    rule_id: str | None = None
    """That rule's `id`, when it has one."""
    error_code: str | None = None
    error_message: str | None = None
    prerequisite: str | None = None
    """With PREREQUISITE_FAILED: the key of the first prerequisite that was not met."""


def boolean_definition(key: str) -> FlagDefinition:
    """The seed's only kind of flag: on serves true, off serves false."""
    return FlagDefinition(
        key=key,
        kind=FlagKind.BOOLEAN,
        variants={"on": True, "off": False},
        off_variant="off",
        default_variant="on",
    )
