"""Which environment a request acts on.

A key bound to an environment acts there and nowhere else; an unbound key (the
seed's kind) acts where the request says, or on the default environment when it
says nothing, so every seed script sees one world, as before.
"""

from __future__ import annotations

from functions.core.auth_client import Caller
from functions.core.errors import BadRequest, Forbidden
from functions.core.names import ENVIRONMENT_RULE, is_environment_name

ENVIRONMENT_PARAMETER = "environment"


def resolve_environment(caller: Caller, requested: str | None, *, default: str) -> str:
    if requested is not None and not is_environment_name(requested):
        raise BadRequest(
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
    """For changes that reach every environment: flag deletion, environment CRUD."""
    if caller.environment is not None:
        raise Forbidden(
            f"this API key is bound to environment '{caller.environment}' and cannot {action}",
            key_environment=caller.environment,
        )
