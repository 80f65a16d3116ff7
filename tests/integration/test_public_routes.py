"""The one host's routing table (`functions.core.routes`), checked against the functions'
own routers: every public route reaches its function, none is left out, no route of the
table is dead, and the seed's prefixed layout still reaches auth and targeting."""

from __future__ import annotations

import re

import pytest

from functions.commands.openapi import router_of
from functions.core.names import FUNCTIONS
from functions.core.routes import (
    HOST_PATHS,
    INTERNAL_PATHS,
    ROUTES,
    PublicRoute,
    resolve,
    routed_functions,
)

_VARIABLE = re.compile(r"<(?:[^:>]+:)?[^>]+>")
DOCS_FILES = "/docs/<name>"
"""Below `/docs`: the page's files, which the host serves with the page."""


def _sample(rule: str) -> str:
    """A path the rule matches: every variable becomes one segment."""
    return _VARIABLE.sub("x", rule)


def _public_rules(function: str) -> list[str]:
    """The function's paths but those every function answers for itself, and those
    only its operators reach."""
    return sorted(
        {
            operation.path
            for operation in router_of(function).operations
            if operation.path not in (*HOST_PATHS, *INTERNAL_PATHS) and operation.path != DOCS_FILES
        }
    )


@pytest.mark.parametrize("function", routed_functions())
def test_resolve__every_public_route_of_a_function__that_function_with_path_unchanged(
    function: str,
) -> None:
    # Given every path the function's router serves
    rules = _public_rules(function)
    # When each is resolved on the one host
    destinations = {rule: resolve(_sample(rule)) for rule in rules}
    # Then each reaches that function, handed the path as sent
    assert rules
    wrong = {
        rule: destination and (destination.function, destination.path)
        for rule, destination in destinations.items()
        if destination is None
        or (destination.function, destination.path) != (function, _sample(rule))
    }
    assert not wrong, f"routes of {function} not routed to it: {wrong}"


def test_resolve__analytics__queries_routed_event_receiver_never() -> None:
    # Given analytics' routes: queries, and `/` where the queue's source delivers events
    rules = [operation.path for operation in router_of("analytics").operations]
    # When / Then the host hands the queries to analytics, and `/` (POST) to no function
    assert "analytics" in routed_functions()
    assert "/" in rules
    assert resolve("/") is None
    queries = [rule for rule in rules if rule.startswith("/analytics/")]
    assert queries
    assert all(getattr(resolve(_sample(rule)), "function", None) == "analytics" for rule in queries)


def test_resolve__operators_paths__never_routed() -> None:
    # Given / When / Then `/metrics` and `/status` stay inside the cluster
    assert {path: resolve(path) for path in INTERNAL_PATHS} == dict.fromkeys(INTERNAL_PATHS)


def test_resolve__paths_the_host_answers__no_function() -> None:
    # Given / When / Then `/`, `/health`, `/ready`, `/openapi.json`, `/docs` are the host's
    assert {path: resolve(path) for path in HOST_PATHS} == dict.fromkeys(HOST_PATHS)
    assert resolve("/docs/swagger-ui.css") is None


@pytest.mark.parametrize("route", [route for route in ROUTES if not route.strip])
def test_routes__every_route__serves_some_operation_of_its_function(route: PublicRoute) -> None:
    # Given the route's function's public paths
    samples = [_sample(rule) for rule in _public_rules(route.function)]
    # When / Then at least one is matched by this very route (no dead or shadowed route)
    assert any(
        (found := resolve(sample)) is not None and found.route == route for sample in samples
    ), f"{route.prefix} reaches nothing of {route.function}"


def test_resolve__more_specific_first__environment_keys_auth_other_environments_flags() -> None:
    # Given / When
    keys = resolve("/environments/staging/keys")
    environment = resolve("/environments/staging")
    called_keys = resolve("/environments/keys")
    # Then
    assert keys is not None and keys.function == "auth"
    assert environment is not None and environment.function == "flags"
    assert called_keys is not None and called_keys.function == "flags"


@pytest.mark.parametrize(
    ("path", "function", "handed"),
    [
        ("/auth", "auth", "/"),
        ("/auth/health", "auth", "/health"),
        ("/auth/admin/keys", "auth", "/admin/keys"),
        ("/targeting/rules/checkout", "targeting", "/rules/checkout"),
        ("/targeting/ready", "targeting", "/ready"),
        ("/evaluate", "evaluation", "/evaluate"),
        ("/flags", "flags", "/flags"),
    ],
)
def test_resolve__seed_single_host_layout__prefix_stripped_where_it_is_not_a_real_path(
    path: str, function: str, handed: str
) -> None:
    # Given / When
    destination = resolve(path)
    # Then
    assert destination is not None
    assert (destination.function, destination.path) == (function, handed)


@pytest.mark.parametrize("path", ["/flagsx", "/nothing", "//flags", "flags", "/environments//keys"])
def test_resolve__no_route_matches__none(path: str) -> None:
    # Given / When / Then a prefix matches whole segments only
    destination = resolve(path)
    assert destination is None or destination.route.prefix == "/environments"


def test_pattern__every_route__matches_exactly_what_target_matches() -> None:
    # Given every function's sample paths, and a few that match nothing
    samples = [_sample(rule) for function in FUNCTIONS for rule in _public_rules(function)]
    samples += ["/flagsx", "/auth", "/auth/x", "/environments/a/keys/b", "/", "/environments//keys"]
    for route in ROUTES:
        regex = re.compile(route.pattern)
        # When / Then the regular expression (for ingresses) agrees with the matcher
        for sample in samples:
            assert (regex.match(sample) is not None) == (route.target(sample) is not None), (
                route.prefix,
                sample,
            )


@pytest.mark.parametrize(
    ("prefix", "function", "strip"),
    [("flags", "flags", False), ("/flags/", "flags", False), ("/x", "billing", False)],
)
def test_public_route__malformed__refused(prefix: str, function: str, strip: bool) -> None:
    # Given / When / Then
    with pytest.raises(ValueError, match=r"prefix|function"):
        PublicRoute(prefix, function, strip)
