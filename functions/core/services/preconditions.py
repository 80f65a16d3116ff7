"""Lost updates refused: the version of a flag, rule or segment a reader saw (its ETag)
checked, inside the write's transaction and with the row locked, against the version
the write would replace.

A version is a digest of the resource exactly as its GET shows it (for a flag or a rule:
in one environment), so it changes exactly when that answer changes. A write without
`If-Match` is not checked: scripts written before versions existed keep working.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel

from functions.core.errors import PreconditionFailed


def version_of(resource: BaseModel) -> str:
    """The resource's version: a digest of the JSON its GET answers (the ETag, unquoted)."""
    body = resource.model_dump(mode="json", by_alias=True)
    text = json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class IfMatch:
    """What an `If-Match` header asked for: any current version (`*`), or one of `versions`."""

    versions: frozenset[str] = frozenset()
    any: bool = False

    def holds_for(self, resource: BaseModel) -> bool:
        return self.any or version_of(resource) in self.versions


def check(if_match: IfMatch | None, resource: BaseModel, *, what: str, read_again: str) -> None:
    """412 when `if_match` names a version `resource` (read with its row locked) no longer
    has; `what` names it ("flag 'x' in environment 'staging'"), `read_again` says how."""
    if if_match is None or if_match.holds_for(resource):
        return
    raise PreconditionFailed(
        f"{what} changed since it was read (If-Match names a version it no longer has):"
        f" nothing was written. Read it again ({read_again}), make the change on what it"
        " holds now, and send that answer's ETag in If-Match"
    )
