"""The OpenFeature Python SDK with the OFREP provider from PyPI, unchanged, against the
running stack: what a customer application gets when it points OpenFeature at
ToggleMaster. The provider calls the single-flag endpoint only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import requests
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason

from functions.devstack.stack import DevStack
from tests.e2e.polling import eventually

pytestmark = pytest.mark.e2e

T = TypeVar("T")
"""Propagation is promised within 100 ms; this only bounds a test that would otherwise hang."""

RUN = uuid.uuid4().hex[:8]
ENABLED = f"sdk_enabled_{RUN}"
COLOUR = f"sdk_colour_{RUN}"
RATIO = f"sdk_ratio_{RUN}"
SEATS = f"sdk_seats_{RUN}"
THEME = f"sdk_theme_{RUN}"
MISSING = f"sdk_missing_{RUN}"
THEMES: dict[str, Any] = {
    "light": {"name": "light", "contrast": 1.5, "accents": ["#fff"]},
    "dark": {"name": "dark", "contrast": 7, "accents": ["#000", "#333"], "beta": True},
}
ANA = EvaluationContext(targeting_key="ana", attributes={"plan": "free"})
ZED = EvaluationContext(targeting_key="zed", attributes={"plan": "free"})


def served(variant: str) -> Callable[[FlagEvaluationDetails[Any]], bool]:
    return lambda details: details.variant == variant


def _write(stack: DevStack, key: str, function: str, path: str, body: dict[str, Any]) -> None:
    response = requests.post(
        stack.url_of(function) + path,
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def _new_key(stack: DevStack) -> str:
    """A key that may only evaluate, in the default environment."""
    response = requests.post(
        f"{stack.url_of('auth')}/admin/keys",
        json={"name": f"sdk-{RUN}", "scopes": ["evaluate"]},
        headers={"Authorization": f"Bearer {stack.master_key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def evaluate_key(stack: DevStack, api_key: str) -> str:
    """One flag of each type, made once for the module, and a key to evaluate them."""
    _write(stack, api_key, "flags", "/flags", {"name": ENABLED, "is_enabled": True})
    _write(
        stack,
        api_key,
        "flags",
        "/flags",
        {
            "name": COLOUR,
            "is_enabled": True,
            "type": "string",
            "variants": {"off": "none", "control": "grey", "blue": "#00f"},
            "off_variant": "off",
            "default_variant": "control",
        },
    )
    users = {"type": "USERS", "users": ["ana"], "serve": {"variant": "blue"}}
    _write(
        stack, api_key, "targeting", "/rules", {"flag_name": COLOUR, "rules": {"rules": [users]}}
    )
    for name, variants, default in (
        (RATIO, {"none": 0.0, "quarter": 0.25, "half": 0.5}, "quarter"),
        (SEATS, {"none": 0, "few": 5, "many": 50}, "many"),
    ):
        flag = {
            "name": name,
            "is_enabled": True,
            "type": "number",
            "variants": variants,
            "off_variant": "none",
            "default_variant": default,
        }
        _write(stack, api_key, "flags", "/flags", flag)
    theme = {
        "name": THEME,
        "is_enabled": True,
        "type": "json",
        "variants": THEMES,
        "off_variant": "light",
        "default_variant": "dark",
    }
    _write(stack, api_key, "flags", "/flags", theme)
    return _new_key(stack)


@pytest.fixture
def client(stack: DevStack, evaluate_key: str) -> Iterator[OpenFeatureClient]:
    """An OpenFeature client whose provider sends the key as a bearer token."""
    domain = f"togglemaster-{uuid.uuid4().hex[:8]}"
    provider = OFREPProvider(
        stack.url_of("evaluation"),
        headers_factory=lambda: {"Authorization": f"Bearer {evaluate_key}"},
    )
    api.set_provider(provider, domain)
    yield api.get_client(domain)
    api.clear_providers()


def test_boolean__enabled_without_rules__true_static(client: OpenFeatureClient) -> None:
    # Given / When
    details = eventually(
        lambda: client.get_boolean_details(ENABLED, False, ZED), served("on"), ENABLED
    )
    # Then
    assert (details.value, details.variant, details.reason) == (True, "on", Reason.STATIC)
    assert details.error_code is None
    # And the freshness of the decision comes through as flag metadata
    metadata = details.flag_metadata
    assert metadata["environment"] == "production"
    assert metadata["stale"] is False
    assert isinstance(metadata["config_version"], int)
    assert isinstance(metadata["config_age_ms"], int)


def test_string__user_rule__targeting_match(client: OpenFeatureClient) -> None:
    # Given a string flag serving blue to ana / When ana and zed are evaluated
    ana = eventually(
        lambda: client.get_string_details(COLOUR, "fallback", ANA), served("blue"), COLOUR
    )
    zed = client.get_string_details(COLOUR, "fallback", ZED)
    # Then ana matches, zed gets the default variant
    assert (ana.value, ana.variant, ana.reason) == ("#00f", "blue", Reason.TARGETING_MATCH)
    assert ana.error_code is None
    assert (zed.value, zed.variant, zed.error_code) == ("grey", "control", None)


def test_float__number_flag__float_value(client: OpenFeatureClient) -> None:
    # Given / When
    details = eventually(
        lambda: client.get_float_details(RATIO, 1.0, ZED), served("quarter"), RATIO
    )
    # Then
    assert (details.value, details.variant, details.reason) == (0.25, "quarter", Reason.STATIC)
    assert details.error_code is None


def test_integer__number_flag__integer_value(client: OpenFeatureClient) -> None:
    # Given / When
    details = eventually(lambda: client.get_integer_details(SEATS, 1, ZED), served("many"), SEATS)
    # Then
    assert (details.value, details.variant, details.reason) == (50, "many", Reason.STATIC)
    assert type(details.value) is int
    assert details.error_code is None


def test_object__json_flag__the_whole_document(client: OpenFeatureClient) -> None:
    # Given / When
    details = eventually(
        lambda: client.get_object_details(THEME, {"name": "code"}, ZED), served("dark"), THEME
    )
    # Then
    assert (details.value, details.variant, details.reason) == (
        THEMES["dark"],
        "dark",
        Reason.STATIC,
    )
    assert details.error_code is None


def test_unknown_flag__default_value_and_flag_not_found(client: OpenFeatureClient) -> None:
    # Given a provider that resolves the flags evaluation knows (the provider turns any 404,
    # a missing route included, into FLAG_NOT_FOUND)
    eventually(lambda: client.get_boolean_details(ENABLED, False, ZED), served("on"), ENABLED)
    # When a flag nobody made is evaluated
    details = client.get_string_details(MISSING, "fallback", ANA)
    # Then the application gets its own default, and why
    assert (details.value, details.reason) == ("fallback", Reason.ERROR)
    assert details.error_code == ErrorCode.FLAG_NOT_FOUND
    assert details.error_message


def test_no_targeting_key__default_value_and_targeting_key_missing(
    client: OpenFeatureClient,
) -> None:
    # Given a flag evaluation knows
    eventually(lambda: client.get_boolean_details(ENABLED, False, ZED), served("on"), ENABLED)
    # When it is asked without a targeting key
    anonymous = EvaluationContext(attributes={"plan": "pro"})
    details = eventually(
        lambda: client.get_boolean_details(ENABLED, False, anonymous),
        lambda d: d.error_code != ErrorCode.FLAG_NOT_FOUND,
        "the flag known to every worker",
    )
    # Then the application gets its own default, and why
    assert (details.value, details.reason) == (False, Reason.ERROR)
    assert details.error_code == ErrorCode.TARGETING_KEY_MISSING
    assert details.error_message


def test_x_api_key__headers_factory__same_decision(stack: DevStack, evaluate_key: str) -> None:
    # Given a provider sending the key as X-API-Key
    domain = f"togglemaster-{uuid.uuid4().hex[:8]}"
    provider = OFREPProvider(
        stack.url_of("evaluation"), headers_factory=lambda: {"X-API-Key": evaluate_key}
    )
    api.set_provider(provider, domain)
    try:
        client = api.get_client(domain)
        # When / Then
        details = eventually(
            lambda: client.get_string_details(COLOUR, "fallback", ANA), served("blue"), COLOUR
        )
        assert (details.value, details.reason, details.error_code) == (
            "#00f",
            Reason.TARGETING_MATCH,
            None,
        )
    finally:
        api.clear_providers()


def test_unknown_key__default_value_and_general_error(stack: DevStack) -> None:
    # Given a provider with a key nobody minted
    domain = f"togglemaster-{uuid.uuid4().hex[:8]}"
    provider = OFREPProvider(
        stack.url_of("evaluation"),
        headers_factory=lambda: {"Authorization": f"Bearer tm_{uuid.uuid4().hex}"},
    )
    api.set_provider(provider, domain)
    try:
        # When
        details = api.get_client(domain).get_boolean_details(ENABLED, False, ANA)
    finally:
        api.clear_providers()
    # Then the provider reports the 401 as such, and the application keeps its default
    assert (details.value, details.reason) == (False, Reason.ERROR)
    assert (details.error_code, details.error_message) == (ErrorCode.GENERAL, "unauthorized")
