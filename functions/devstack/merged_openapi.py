"""One OpenAPI description for the one host: every routed function's, merged.

Each function keeps the paths the host routes to it (`functions.core.routes`), its
operations tagged with its name; what every function answers for itself (`/health`,
`/openapi.json`, ...) is left out, as are the seed's prefixed aliases. Components two
functions define alike are kept once; one defined differently is renamed for the
function that brings it (`EvaluationFlag`), and its references with it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from functions.core.routes import resolve

_TEMPLATE = re.compile(r"\{[^}/]+\}")
_REF = re.compile(r"^#/components/(?P<section>\w+)/(?P<name>[^/]+)$")

Document = dict[str, Any]


def merge(documents: Mapping[str, Mapping[str, Any]], *, title: str = "ToggleMaster") -> Document:
    """`documents`: each routed function's own description, by function name."""
    merged: Document = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": _description(documents)},
        "tags": [
            {"name": function, "description": _first_line(document)}
            for function, document in documents.items()
        ],
        "paths": {},
        "components": {},
    }
    operation_ids: set[str] = set()
    for function, original in documents.items():
        document = copy.deepcopy(dict(original))
        components = document.get("components", {})
        renames = _renames(merged["components"], components, function)
        document = _rewrite_refs(document, renames)
        for section, definitions in document.get("components", {}).items():
            into = merged["components"].setdefault(section, {})
            for name, definition in definitions.items():
                into.setdefault(renames.get((section, name), name), definition)
        for path, item in document.get("paths", {}).items():
            if not _routed_to(function, path):
                continue
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                operation["tags"] = [function]
                operation_id = operation.get("operationId")
                if operation_id in operation_ids:
                    operation["operationId"] = f"{function}_{operation_id}"
                operation_ids.add(operation["operationId"])
            merged["paths"][path] = item
    return merged


def _routed_to(function: str, path: str) -> bool:
    """Whether the host hands `path` (a template, `/flags/{name}`) to `function` as is."""
    sample = _TEMPLATE.sub("x", path)
    destination = resolve(sample)
    return destination is not None and (destination.function, destination.path) == (
        function,
        sample,
    )


def _renames(
    merged: Mapping[str, Mapping[str, Any]], components: Mapping[str, Any], function: str
) -> dict[tuple[str, str], str]:
    """The components of `function` that clash with one already merged: renamed, and so
    are those that refer to a renamed one (until nothing more changes)."""
    renames: dict[tuple[str, str], str] = {}
    changed = True
    while changed:
        changed = False
        for section, definitions in components.items():
            for name, definition in definitions.items():
                known = merged.get(section, {}).get(name)
                if known is None or (section, name) in renames:
                    continue
                if _rewrite_refs(definition, renames) != known:
                    renames[(section, name)] = function.title() + name
                    changed = True
    return renames


def _rewrite_refs(value: Any, renames: Mapping[tuple[str, str], str]) -> Any:
    if isinstance(value, dict):
        rewritten = {key: _rewrite_refs(item, renames) for key, item in value.items()}
        ref = value.get("$ref")
        match = _REF.match(ref) if isinstance(ref, str) else None
        if match is not None and (match["section"], match["name"]) in renames:
            new_name = renames[(match["section"], match["name"])]
            rewritten["$ref"] = f"#/components/{match['section']}/{new_name}"
        return rewritten
    if isinstance(value, list):
        return [_rewrite_refs(item, renames) for item in value]
    return value


def _first_line(document: Mapping[str, Any]) -> str:
    description = str(document.get("info", {}).get("description", ""))
    return " ".join(description.split("\n\n")[0].split())


def _description(documents: Mapping[str, Mapping[str, Any]]) -> str:
    lines = ["Every ToggleMaster function on one host, routed by path.", ""]
    lines += [f"- **{function}**: {_first_line(doc)}" for function, doc in documents.items()]
    return "\n".join(lines)
