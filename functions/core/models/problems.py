"""What a body's validation errors say, in ToggleMaster's words.

The validation library describes a problem in its own terms ("Input should be a valid
integer", "Extra inputs are not permitted"); a person needs the field at fault, what it
must be instead, and for an unknown field the ones that are accepted. `problems` walks
the model along each error's location to find that out (the accepted fields, a
number's bounds, a name's rule), so every request body and the configuration file say
the same thing the same way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from functions.core.names import PATTERN_RULES

_KINDS = {
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "mapping_type": "an object",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "none_required": "null",
}
"""Errors that mean "not of the right type", by what the field must be instead."""
_WHEN = "a date and time with its time zone, such as 2030-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a body: where (`path`, `$.flags[0].name`), and what to do."""

    path: str
    message: str
    accepted: tuple[str, ...] | None = None
    """For an unknown field: the fields its object accepts; None otherwise."""
    missing: bool = False
    """A required field left out (a 400, as the seed's clients expect; the rest is 422)."""

    @property
    def field(self) -> str:
        """The path as people write it: `flags[0].name` (the body itself: `$`)."""
        return self.path.removeprefix("$.") if self.path != "$" else "$"

    @property
    def unknown(self) -> bool:
        return self.accepted is not None


def problems(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Each error of validating a body against `model`, once per field, in order."""
    found: dict[str, list[tuple[str, Problem]]] = {}
    for item in error.errors(include_url=False):
        location, parent, info = _walk(model, item["loc"])
        problem = _problem(item, _path(location), parent, info)
        found.setdefault(problem.path, []).append((item["type"], problem))
    return [_merged(entries) for entries in found.values()]


def accepted_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields a body of `model` may hold, as a client spells them."""
    return tuple(info.alias or name for name, info in model.model_fields.items())


def _problem(
    item: Mapping[str, Any], path: str, parent: type[BaseModel] | None, info: FieldInfo | None
) -> Problem:
    kind = item["type"]
    context = item.get("ctx") or {}
    subject = f"'{path.removeprefix('$.')}'" if path != "$" else "the body"
    if kind == "extra_forbidden":
        accepted = accepted_fields(parent) if parent is not None else ()
        listed = f"; accepted fields: {', '.join(accepted)}" if accepted else ""
        return Problem(path, f"unknown field {subject}{listed}", accepted)
    if kind == "missing" or (
        item.get("input", ...) in (None, "") and info is not None and info.is_required()
    ):  # a required field sent as null or "" is missing too, as the seed's clients expect
        return Problem(path, f"{subject} is required", missing=True)
    if kind in _KINDS:
        return Problem(path, f"{subject} must be {_kind(kind, info)}")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return Problem(path, f"{subject} must be {_number(info, whole=False, fallback=context)}")
    if kind.startswith(("datetime", "date_", "timezone")):
        return Problem(path, f"{subject} must be {_WHEN}")
    if kind == "string_too_short":
        least = context.get("min_length", 1)
        return Problem(
            path,
            f"{subject} must not be empty"
            if least == 1
            else f"{subject} must be at least {least} characters",
        )
    if kind == "string_too_long":
        return Problem(path, f"{subject} must be at most {context.get('max_length')} characters")
    if kind == "too_short":
        return Problem(path, f"{subject} must list at least {context.get('min_length')} item(s)")
    if kind == "too_long":
        return Problem(path, f"{subject} must list at most {context.get('max_length')} items")
    if kind == "string_pattern_mismatch":
        pattern = str(context.get("pattern", ""))
        rule = PATTERN_RULES.get(pattern, f"text matching {pattern}")
        return Problem(path, f"{subject} must be {rule}")
    if kind in ("literal_error", "enum"):
        expected = str(context.get("expected", ""))
        many = " or " in expected or "," in expected
        return Problem(path, f"{subject} must be {'one of ' if many else ''}{expected}")
    if kind in ("value_error", "assertion_error") and "error" in context:
        return Problem(path, str(context["error"]))
    return Problem(path, f"{subject} is not valid here: see the body's schema in /openapi.json")


def _merged(entries: list[tuple[str, Problem]]) -> Problem:
    """One problem per field: a union's arms each refuse the type, said once ("an object
    or a list")."""
    kinds = [kind for kind, _ in entries if kind in _KINDS]
    first = entries[0][1]
    if len(kinds) < 2:
        return first
    subject = first.message.split(" must be ", 1)[0]
    wanted = " or ".join(dict.fromkeys(_KINDS[kind] for kind in kinds))
    return Problem(first.path, f"{subject} must be {wanted}")


def _kind(kind: str, info: FieldInfo | None) -> str:
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _number(info, whole=True, fallback={})
    return _KINDS[kind]


def _number(info: FieldInfo | None, *, whole: bool, fallback: Mapping[str, Any]) -> str:
    """`a whole number from 0 to 100`, as the field's bounds (or the error's) say."""
    bounds: dict[str, Any] = dict(fallback)
    for constraint in info.metadata if info is not None else ():
        if isinstance(constraint, annotated_types.BaseMetadata):
            for name in ("ge", "gt", "le", "lt"):
                if getattr(constraint, name, None) is not None:
                    bounds[name] = getattr(constraint, name)
    what = "a whole number" if whole or _is_int(info) else "a number"
    if "ge" in bounds and "le" in bounds:
        return f"{what} from {bounds['ge']} to {bounds['le']}"
    limits = [
        f"{words} {bounds[name]}"
        for name, words in (
            ("ge", "at least"),
            ("gt", "greater than"),
            ("le", "at most"),
            ("lt", "less than"),
        )
        if name in bounds
    ]
    return f"{what}, {' and '.join(limits)}" if limits else what


def _is_int(info: FieldInfo | None) -> bool:
    return info is not None and int in _arms(info.annotation)


def _walk(
    model: type[BaseModel], location: Iterable[int | str]
) -> tuple[list[int | str], type[BaseModel] | None, FieldInfo | None]:
    """The location without the union arms' tags, the model holding its last part, and
    that part's field (when it is one)."""
    current: Any = model
    clean: list[int | str] = []
    parent: type[BaseModel] | None = None
    info: FieldInfo | None = None
    tagged = False
    for part in location:
        arms = _arms(current)
        if len(arms) > 1 and isinstance(part, str) and not tagged:
            tagged = True  # the name of the union's arm that refused, not a field
            continue
        tagged = False
        following: Any = None
        info = None
        for arm in arms:
            if isinstance(arm, type) and issubclass(arm, BaseModel):
                if isinstance(part, str) and (found := _field(arm, part)) is not None:
                    parent, info, following = arm, found, found.annotation
                    break
                continue
            origin, arguments = typing.get_origin(arm), typing.get_args(arm)
            if origin in (list, tuple, set, frozenset) and isinstance(part, int) and arguments:
                following = arguments[0]
                break
            if origin is dict and len(arguments) == 2:
                following = arguments[1]
                break
        if following is None and info is None and isinstance(part, str):
            parent = next(
                (arm for arm in arms if isinstance(arm, type) and issubclass(arm, BaseModel)),
                None,
            )
        clean.append(part)
        current = following
    return clean, parent, info


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    for field_name, info in model.model_fields.items():
        if (info.alias or field_name) == name:
            return info
    return None


def _arms(annotation: Any) -> list[Any]:
    """The types a value of `annotation` may be, None and `Annotated` left out."""
    if annotation is None:
        return []
    if typing.get_origin(annotation) is typing.Annotated:
        return _arms(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [arm for sub in typing.get_args(annotation) for arm in _arms(sub)]
    if annotation is type(None):
        return []
    return [annotation]


def _path(location: Iterable[int | str]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
