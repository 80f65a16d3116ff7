"""Who is calling, and what they may act on: scopes and the environment a request acts on.

A key bound to an environment acts there and nowhere else; an unbound key (the
seed's kind) acts where the request says, or on the default environment when it
says nothing, so every seed script sees one world, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.errors import Forbidden, InvalidValue, Unauthorized
from functions.core.models.keys import SEED_SCOPES, Refusal
from functions.core.names import ENVIRONMENT_RULE, is_environment_name

ENVIRONMENT_PARAMETER = "environment"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key as auth knows it."""

    key_id: int | None
    name: str
    scopes: frozenset[str] = SEED_SCOPES
    environment: str | None = None
    """The environment the key is bound to; None acts on every environment."""

    def require(self, scope: str) -> None:
        """403 when the key lacks `scope`: the key is good, it may not do this."""
        if scope not in self.scopes:
            held = ", ".join(sorted(self.scopes))
            raise Forbidden(
                f"this API key lacks the '{scope}' scope (it has: {held}); use a key that"
                f' has it, or create one with POST /admin/keys and "scopes": ["{scope}"]',
                missing_scope=scope,
                scopes=sorted(self.scopes),
            )


def refused(refusal: Refusal) -> Unauthorized:
    """The 401 for a key that is missing or not good (unknown, revoked, expired, rotated
    out, the master key outside /admin): `reason` says which, the message what to do."""
    return Unauthorized(refusal.message, reason=refusal.reason)


def resolve_environment(caller: Caller, requested: str | None, *, default: str) -> str:
    if requested is not None and not is_environment_name(requested):
        raise InvalidValue(
            f"query parameter 'environment' must be {ENVIRONMENT_RULE}", parameter="environment"
        )
    if caller.environment is not None:
        if requested is not None and requested != caller.environment:
            raise Forbidden(
                f"this API key is bound to environment '{caller.environment}'"
                f" and cannot act on '{requested}'",
                key_environment=caller.environment,
                requested_environment=requested,
            )
        return caller.environment
    return requested or default


def require_access(caller: Caller, *environments: str) -> None:
    """For calls that name environments in their body (promotion)."""
    for environment in environments:
        resolve_environment(caller, environment, default=environment)


def require_unbound(caller: Caller, action: str) -> None:
    """For changes that reach every environment: flag deletion, segments, environments."""
    if caller.environment is not None:
        raise Forbidden(
            f"this API key is bound to environment '{caller.environment}' and cannot {action};"
            " that takes a key that is not bound to an environment",
            key_environment=caller.environment,
        )
