"""Keys that recently passed the check, remembered by the token itself.

Evaluation checks the key of every request against its snapshot: a SHA-256 of the token
and a lookup. A client sends the same key on every request, so the evaluation process
remembers, for the keys of the snapshot it holds, which tokens passed and what they may
do: a warm request then costs a dict lookup and an expiry check, not a hash.

What is remembered is only ever a token that passed against the current keys: a
random or forged key is hashed, refused and never stored, so a flood of them cannot
fill this. The memory belongs to one keys mapping (`Snapshot.grants`, replaced as a
whole on every key change): a revocation, rotation or scope change builds a new
mapping, and the first request after it starts an empty memory, so nothing outlives
the keys it was checked against. Expiry is checked on every use. Tokens are held in
this process's memory only, as the request that brought them was; never logged.
"""

from __future__ import annotations

from collections.abc import Mapping

from functions.core.keys.access import Caller
from functions.core.models.keys import Grant

MAX_REMEMBERED = 10_000
"""Tokens remembered at most; past that the memory starts again (a deployment has far
fewer keys in use)."""


class PassedTokens:
    """Token → (grant, caller) for one keys mapping. One writer at a time is assumed
    (the event loop's thread); a lost update only costs a hash on a later request."""

    __slots__ = ("_grants", "_passed")

    def __init__(self) -> None:
        self._grants: Mapping[str, Grant] | None = None
        self._passed: dict[str, tuple[Grant, Caller]] = {}

    def get(self, grants: Mapping[str, Grant], token: str) -> tuple[Grant, Caller] | None:
        """What `token` may do if it passed against this very `grants` mapping."""
        if grants is not self._grants:
            return None
        return self._passed.get(token)

    def remember(self, grants: Mapping[str, Grant], token: str, grant: Grant) -> Caller:
        """The caller of a token that passed against `grants`, remembered."""
        if grants is not self._grants or len(self._passed) >= MAX_REMEMBERED:
            self._passed = {}
            self._grants = grants
        caller = Caller(
            key_id=grant.key_id, name=grant.name, scopes=grant.scopes, environment=grant.environment
        )
        self._passed[token] = (grant, caller)
        return caller

    def __len__(self) -> int:
        return len(self._passed)
