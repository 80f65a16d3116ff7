"""Rule documents as they are stored: checked by the engine and kept in its
canonical form, whichever way they arrive (the API, an import, a promotion)."""

from __future__ import annotations

from typing import Any

from functions.core import engine
from functions.core.errors import Unprocessable


def canonical_rule_document(flag_name: str, rules: Any, *, path: str) -> Any:
    """The canonical form, or 422 naming the JSON path (under `path`) at fault."""
    try:
        parsed = engine.parse_ruleset(rules, engine.boolean_definition(flag_name), ())
    except engine.RuleValidationError as exc:
        raise Unprocessable(
            f"invalid rules: {exc.message}", field=exc.path.replace("$", path, 1)
        ) from None
    return engine.ruleset_to_document(parsed)
