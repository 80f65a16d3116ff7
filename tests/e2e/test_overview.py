"""`GET /overview` over real HTTP: every flag's state, rules and last change in every
environment, paginated by name, filtered by tag, and bounded by an environment key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e


def _call(method: str, url: str, key: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, url, headers={"Authorization": f"Bearer {key}"}, timeout=10, **kwargs
    )


@pytest.fixture(scope="module")
def tagged(stack: DevStack, api_key: str) -> tuple[str, list[str]]:
    """Three flags carrying a tag of their own: the first on in production with a 30 %
    rollout and, in staging, two rules; the third archived."""
    tag = f"ov-{uuid.uuid4().hex[:8]}"
    flags, targeting = stack.url_of("flags"), stack.url_of("targeting")
    names = [f"{tag.replace('-', '_')}_{letter}" for letter in "abc"]
    for name in names:
        made = _call(
            "POST",
            f"{flags}/flags",
            api_key,
            json={"name": name, "description": f"about {name}", "tags": [tag, "other"]},
        )
        assert made.status_code == 201, made.text
    segment = f"seg-{tag}"
    assert _call("POST", f"{targeting}/segments", api_key, json={"key": segment}).ok
    first = names[0]
    assert _call("PUT", f"{flags}/flags/{first}", api_key, json={"is_enabled": True}).ok
    rollout = {"flag_name": first, "rules": {"type": "PERCENTAGE", "value": 30}}
    assert _call("POST", f"{targeting}/rules", api_key, json=rollout).status_code == 201
    two_rules = {
        "rules": [
            {"type": "SEGMENT", "segments": [segment], "serve": {"variant": "on"}},
            {
                "type": "CONDITIONS",
                "conditions": {"attribute": "country", "op": "in", "value": ["PT"]},
                "serve": {"variant": "on"},
            },
        ],
        "fallthrough": {"variant": "off"},
    }
    staged = _call(
        "POST",
        f"{targeting}/rules",
        api_key,
        params={"environment": "staging"},
        json={"flag_name": first, "rules": two_rules},
    )
    assert staged.status_code == 201, staged.text
    assert _call("PUT", f"{flags}/flags/{names[2]}", api_key, json={"archived": True}).ok
    return tag, names


def test_overview__tag_filter__every_environment_with_state_rules_and_last_change(
    stack: DevStack, api_key: str, tagged: tuple[str, list[str]]
) -> None:
    # Given three tagged flags, one archived
    tag, names = tagged
    # When the overview is asked for that tag, without and with archived flags
    answer = _call("GET", f"{stack.url_of('flags')}/overview", api_key, params={"tag": tag})
    archived = _call(
        "GET",
        f"{stack.url_of('flags')}/overview",
        api_key,
        params={"tag": [tag, "other"], "archived": "true"},
    )
    # Then the active flags come by name, each in every environment
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [flag["name"] for flag in body["flags"]] == names[:2]
    assert {"development", "staging", "production"} <= set(body["environments"])
    assert body["next"] is None and isinstance(body["config_version"], int)
    first = body["flags"][0]
    assert (first["description"], first["default_variant"], first["off_variant"]) == (
        f"about {names[0]}",
        "on",
        "off",
    )
    assert set(first["environments"]) == set(body["environments"])
    production, staging = first["environments"]["production"], first["environments"]["staging"]
    assert production["enabled"] is True and production["rollout"] == 30
    assert production["rules"] == {
        "enabled": True,
        "count": 1,
        "kinds": ["PERCENTAGE"],
        "summary": "30 % rollout",
    }
    assert production["last_change"]["what"] == "rules"
    assert staging["enabled"] is False and staging["rollout"] is None
    assert staging["rules"]["summary"] == (
        f"2 rules: segment seg-{tag}, country in [PT]; otherwise off"
    )
    development = first["environments"]["development"]
    assert development == {
        "enabled": False,
        "rollout": None,
        "rules": None,
        "last_change": development["last_change"],
    }
    assert datetime.fromisoformat(production["last_change"]["at"]) >= datetime.fromisoformat(
        development["last_change"]["at"]
    )
    # And archived flags join on request
    assert [flag["name"] for flag in archived.json()["flags"]] == names
    assert archived.json()["flags"][2]["archived"] is True


def test_overview__limit__pages_follow_next_to_the_end(
    stack: DevStack, api_key: str, tagged: tuple[str, list[str]]
) -> None:
    # Given three tagged flags (archived included)
    tag, names = tagged
    url = stack.url_of("flags")
    # When the pages are followed one flag at a time
    seen: list[str] = []
    links: list[str] = []
    answer = _call(
        "GET", f"{url}/overview", api_key, params={"tag": tag, "archived": "true", "limit": 1}
    )
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(flag["name"] for flag in body["flags"])
        if body["next"] is None:
            break
        links.append(body["next"])
        answer = _call("GET", url + body["next"], api_key)
    # Then every flag came once, in order, and each link kept the filters
    assert seen == names
    assert len(links) == 2
    assert all(f"tag={tag}" in link and "limit=1" in link for link in links)


def test_overview__environment_bound_key__its_environment_only_and_403_elsewhere(
    stack: DevStack, tagged: tuple[str, list[str]]
) -> None:
    # Given a key bound to staging
    tag, _ = tagged
    key = stack.new_key(f"overview-{tag}", environment="staging")
    url = f"{stack.url_of('flags')}/overview"
    # When it asks for the overview, then for production's
    own = _call("GET", url, key, params={"tag": tag})
    other = _call("GET", url, key, params={"tag": tag, "environment": "production"})
    # Then it sees staging alone, and production is refused
    assert own.status_code == 200, own.text
    assert own.json()["environments"] == ["staging"]
    assert [set(flag["environments"]) for flag in own.json()["flags"]] == [{"staging"}] * 2
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": "0"}, 422),
        ({"limit": "many"}, 422),
        ({"environment": "nowhere"}, 404),
        ({"archived": "maybe"}, 422),
    ],
)
def test_overview__bad_query__4xx_json(
    stack: DevStack, api_key: str, params: dict[str, str], status: int
) -> None:
    # Given / When
    answer = _call("GET", f"{stack.url_of('flags')}/overview", api_key, params=params)
    # Then
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
