"""Typed flags, attribute rules, segments, splits and archiving over real HTTP (issue 4)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack
from tests.e2e.stack_api import Api as StackApi

pytestmark = pytest.mark.e2e

COLOURS = {"control": "grey", "blue": "#00f", "green": "#0f0"}


class Api(StackApi):
    """Just enough to keep each test about its subject."""

    def __init__(self, stack: DevStack, key: str) -> None:
        super().__init__(stack, key, settle=False)

    def ok(self, function: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(function, method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        if method != "GET" and function != "evaluation":
            self.stack.settle()  # what the next evaluation decides with
        body: dict[str, Any] = response.json()
        return body

    def evaluate(self, flag: str, context: dict[str, Any]) -> dict[str, Any]:
        return self.ok(
            "evaluation", "POST", "/evaluate", json={"flag_name": flag, "context": context}
        )

    def string_flag(self, name: str | None = None, **extra: Any) -> str:
        name = name or f"colour_{uuid.uuid4().hex[:8]}"
        self.ok(
            "flags",
            "POST",
            "/flags",
            json={
                "name": name,
                "is_enabled": True,
                "type": "string",
                "variants": COLOURS,
                "off_variant": "control",
                "default_variant": "control",
                **extra,
            },
        )
        return name

    def segment(self, **document: Any) -> str:
        key = f"seg-{uuid.uuid4().hex[:8]}"
        self.ok("targeting", "POST", "/segments", json={"key": key, **document})
        return key

    def rules(self, flag: str, rules: dict[str, Any]) -> requests.Response:
        response = self.call(
            "targeting", "POST", "/rules", json={"flag_name": flag, "rules": rules}
        )
        self.stack.settle()
        return response


@pytest.fixture
def api(stack: DevStack, api_key: str) -> Api:
    return Api(stack, api_key)


def test_post_evaluate__string_flag_with_attribute_rule__serves_the_matching_variant(
    api: Api,
) -> None:
    # Given a string flag whose rule serves "blue" to Portuguese speakers on new app versions
    flag = api.string_flag()
    conditions = {
        "all": [
            {"attribute": "country", "op": "in", "value": ["PT", "BR"]},
            {"attribute": "app_version", "op": "semver_gt", "value": "2.3.0"},
            {"attribute": "seats", "op": "gte", "value": 10},
        ]
    }
    rules = {
        "rules": [{"type": "CONDITIONS", "conditions": conditions, "serve": {"variant": "blue"}}]
    }
    assert api.rules(flag, rules).status_code == 201
    # When users are evaluated with JSON contexts
    match = api.evaluate(
        flag, {"user_id": "u1", "country": "BR", "app_version": "2.10.0", "seats": 12}
    )
    old_app = api.evaluate(
        flag, {"user_id": "u1", "country": "BR", "app_version": "2.2.9", "seats": 12}
    )
    seats_as_text = api.evaluate(
        flag, {"targetingKey": "u2", "country": "PT", "app_version": "3.0.0", "seats": "12"}
    )
    # Then the full matches get blue -- a rule written now reads the decimal string "12" as
    # the number (grammar 2) -- and the old app falls through to the default variant
    assert match["variant"] == "blue" and match["value"] == "#00f"
    assert match["reason"] == "TARGETING_MATCH" and match["result"] is True
    assert (old_app["variant"], old_app["reason"], old_app["result"]) == (
        "control",
        "DEFAULT",
        False,
    )
    assert seats_as_text["user_id"] == "u2" and seats_as_text["variant"] == "blue"
    # And the same context as query parameters (strings) is decided the same way
    params = {"flag_name": flag, "user_id": "u1", "country": "BR", "app_version": "2.10.0"}
    query = api.ok("evaluation", "GET", "/evaluate", params=params)
    assert query["variant"] == "control"  # no `seats`: a missing attribute never matches
    query = api.ok("evaluation", "GET", "/evaluate", params={**params, "seats": "12"})
    assert query["variant"] == "blue"


def test_evaluate__rule_decides__answers_name_the_rule_everywhere(api: Api) -> None:
    # Given a flag whose first rule has no id and whose second has one
    flag = api.string_flag()
    rules = {
        "rules": [
            {"type": "USERS", "users": ["ana"], "serve": {"variant": "green"}},
            {"id": "pt", "type": "USERS", "users": ["rui"], "serve": {"variant": "blue"}},
        ]
    }
    assert api.rules(flag, rules).status_code == 201
    # When each user is decided by /evaluate, /evaluate/all and OFREP
    ana, rui, eve = (api.evaluate(flag, {"user_id": user}) for user in ("ana", "rui", "eve"))
    bulk = api.ok(
        "evaluation", "POST", "/evaluate/all", json={"context": {"user_id": "rui"}, "flags": [flag]}
    )
    ofrep = api.ok(
        "evaluation",
        "POST",
        f"/ofrep/v1/evaluate/flags/{flag}",
        json={"context": {"targetingKey": "rui"}},
    )
    # Then a rule's answer names its index (and id when it has one); the fallthrough none
    assert (ana["reason"], ana["rule_index"], "rule_id" in ana) == ("TARGETING_MATCH", 0, False)
    assert (rui["rule_index"], rui["rule_id"]) == (1, "pt")
    assert "rule_index" not in eve and eve["reason"] == "DEFAULT"
    assert bulk["flags"][flag] == {
        "result": True,
        "value": "#00f",
        "variant": "blue",
        "reason": "TARGETING_MATCH",
        "rule_index": 1,
        "rule_id": "pt",
    }
    assert (ofrep["metadata"]["rule_index"], ofrep["metadata"]["rule_id"]) == (1, "pt")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"flag_name": "any"}, 400),  # no context at all: missing, as the seed's 400
        ({"flag_name": "any", "context": {"country": "PT"}}, 422),
        ({"flag_name": "any", "context": {"user_id": 7}}, 422),
        ({"flag_name": "any", "context": {"user_id": ""}}, 422),
    ],
)
def test_post_evaluate__no_user_id__4xx_naming_the_context(
    api: Api, body: dict[str, Any], status: int
) -> None:
    # Given / When
    answer = api.call("evaluation", "POST", "/evaluate", json=body)
    # Then
    assert answer.status_code == status, answer.text
    assert answer.json()["fields"][0]["path"] == "$.context"


def test_segment__used_by_two_flags__both_follow_its_changes_and_delete_is_409(api: Api) -> None:
    # Given a segment of two listed users and of everyone on the pro plan
    segment = api.segment(
        name="Beta testers",
        included=["ana", "bo"],
        conditions={"attribute": "plan", "op": "eq", "value": "pro"},
    )
    first, second = api.string_flag(), api.string_flag()
    for flag, variant in ((first, "blue"), (second, "green")):
        rule = {"type": "SEGMENT", "segments": [segment], "serve": {"variant": variant}}
        assert api.rules(flag, {"rules": [rule]}).status_code == 201
    # When members and others are evaluated on both flags
    ana = [api.evaluate(flag, {"user_id": "ana"})["variant"] for flag in (first, second)]
    pro = [
        api.evaluate(flag, {"user_id": "zed", "plan": "pro"})["variant"] for flag in (first, second)
    ]
    free = [
        api.evaluate(flag, {"user_id": "zed", "plan": "free"})["variant"]
        for flag in (first, second)
    ]
    # Then both flags serve their variant to the segment only
    assert ana == pro == ["blue", "green"]
    assert free == ["control", "control"]

    # When the segment drops ana, the very next evaluation of both flags says so
    api.ok("targeting", "PUT", f"/segments/{segment}", json={"included": ["bo"]})
    assert [api.evaluate(flag, {"user_id": "ana"})["variant"] for flag in (first, second)] == [
        "control",
        "control",
    ]

    # When the segment is deleted while both flags' rules name it
    refused = api.call("targeting", "DELETE", f"/segments/{segment}")
    # Then it is refused naming both flags, and still there
    assert refused.status_code == 409, refused.text
    assert refused.json()["flags"] == sorted([first, second])
    assert first in refused.json()["error"] and second in refused.json()["error"]
    assert api.ok("targeting", "GET", f"/segments/{segment}")["included"] == ["bo"]

    # And once the rules no longer name it, it can be deleted
    for flag in (first, second):
        assert api.call("targeting", "DELETE", f"/rules/{flag}").status_code == 204
    assert api.call("targeting", "DELETE", f"/segments/{segment}").status_code == 204
    assert api.call("targeting", "GET", f"/segments/{segment}").status_code == 404


def test_segments__crud__listed_and_canonical(api: Api) -> None:
    # Given a segment created with unsorted, repeated user ids
    key = api.segment(included=["b", "a", "b"], description="two users")
    # When it is listed, read, duplicated and replaced
    listed = [segment["key"] for segment in api.call("targeting", "GET", "/segments").json()]
    read = api.ok("targeting", "GET", f"/segments/{key}")
    duplicate = api.call("targeting", "POST", "/segments", json={"key": key})
    replaced = api.ok("targeting", "PUT", f"/segments/{key}", json={"excluded": ["c"]})
    # Then
    assert key in listed
    assert read["included"] == ["a", "b"] and read["description"] == "two users"
    assert duplicate.status_code == 409
    assert (replaced["included"], replaced["excluded"], replaced["description"]) == (
        [],
        ["c"],
        None,
    )


def test_split__three_weights__observed_shares_within_two_points(api: Api) -> None:
    # Given a flag whose fallthrough splits 50/30/20; its name is fixed because it salts
    # the hash, so the shares observed are the same on every run (the engine's property
    # tests check random populations)
    flag = api.string_flag(name="split_shares")
    weights = {"control": 50, "blue": 30, "green": 20}
    split = [{"variant": variant, "weight": weight} for variant, weight in weights.items()]
    assert api.rules(flag, {"rules": [], "fallthrough": {"split": split}}).status_code == 201
    # When 3 000 users are evaluated
    users = 3000
    served = Counter(api.evaluate(flag, {"user_id": f"user-{i}"})["variant"] for i in range(users))
    again = api.evaluate(flag, {"user_id": "user-42"})
    # Then each share is within ±2 % of its weight, and a user keeps their variant
    for variant, weight in weights.items():
        assert abs(100 * served[variant] / users - weight) <= 2, served
    assert again["reason"] == "SPLIT"
    assert again["variant"] == api.evaluate(flag, {"user_id": "user-42"})["variant"]


def test_archive__enabled_flag__disabled_hidden_and_restored(api: Api) -> None:
    # Given an enabled boolean flag with a tag
    tag = f"t-{uuid.uuid4().hex[:6]}"
    flag = f"arch_{uuid.uuid4().hex[:8]}"
    api.ok("flags", "POST", "/flags", json={"name": flag, "is_enabled": True, "tags": [tag]})
    assert api.evaluate(flag, {"user_id": "u"})["result"] is True
    # When it is archived
    archived = api.ok("flags", "PUT", f"/flags/{flag}", json={"archived": True})
    # Then evaluation serves the off variant, and the list hides it unless asked
    answer = api.evaluate(flag, {"user_id": "u"})
    assert archived["archived"] is True and archived["archived_at"] is not None
    assert (answer["result"], answer["variant"], answer["reason"]) == (False, "off", "DISABLED")
    assert api.ok("flags", "GET", f"/flags/{flag}")["is_enabled"] is True  # state kept
    hidden = api.call("flags", "GET", "/flags", params={"tag": tag}).json()
    shown = api.call("flags", "GET", "/flags", params={"tag": tag, "archived": "true"}).json()
    assert hidden == [] and [f["name"] for f in shown] == [flag]
    # When it is unarchived, it decides as before
    api.ok("flags", "PUT", f"/flags/{flag}", json={"archived": False})
    assert api.evaluate(flag, {"user_id": "u"})["reason"] == "DEFAULT"


def test_list_flags__tags__only_flags_carrying_every_tag(api: Api) -> None:
    # Given three flags tagged a, a+b, b
    a, b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    names = {}
    for label, tags in (("a", [a]), ("ab", [a, b]), ("b", [b])):
        names[label] = f"tagged_{label}_{uuid.uuid4().hex[:6]}"
        made = api.ok(
            "flags", "POST", "/flags", json={"name": names[label], "tags": tags, "owner": "team-x"}
        )
        assert made["owner"] == "team-x" and made["tags"] == sorted(tags)
    # When they are listed by tag
    by_a = api.call("flags", "GET", "/flags", params={"tag": a}).json()
    by_both = api.call("flags", "GET", "/flags", params=[("tag", a), ("tag", b)]).json()
    # Then
    assert [f["name"] for f in by_a] == sorted([names["a"], names["ab"]])
    assert [f["name"] for f in by_both] == [names["ab"]]


def test_seed_flag__no_new_fields__boolean_with_on_off(api: Api) -> None:
    # Given / When a flag is created as the seed's scripts do
    flag = f"seedish_{uuid.uuid4().hex[:8]}"
    made = api.ok("flags", "POST", "/flags", json={"name": flag, "is_enabled": True})
    # Then it is a boolean flag with the seed's variants, decided as before
    assert (made["type"], made["variants"]) == ("boolean", {"on": True, "off": False})
    assert (made["off_variant"], made["default_variant"], made["archived"]) == ("off", "on", False)
    answer = api.ok("evaluation", "GET", "/evaluate", params={"flag_name": flag, "user_id": "u"})
    assert (answer["result"], answer["value"], answer["variant"]) == (True, True, "on")


def _segment_rule(segment: str) -> dict[str, Any]:
    return {"rules": [{"type": "SEGMENT", "segments": [segment], "serve": {"variant": "blue"}}]}


INVALID_RULES: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown variant",
        {"rules": [{"type": "USERS", "users": ["u"], "serve": {"variant": "red"}}]},
        "$.rules.rules[0].serve.variant",
    ),
    (
        "unknown segment",
        _segment_rule("nobody-made-this"),
        "$.rules.rules[0].segments[0]",
    ),
    (
        "bad regex",
        {
            "rules": [
                {"type": "USERS", "users": ["u"], "serve": {"variant": "blue"}},
                {
                    "type": "CONDITIONS",
                    "conditions": {"all": [{"attribute": "email", "op": "matches", "value": "(["}]},
                    "serve": {"variant": "blue"},
                },
            ]
        },
        "$.rules.rules[1].conditions.all[0].value",
    ),
    (
        "unknown operator",
        {
            "rules": [
                {
                    "type": "CONDITIONS",
                    "conditions": {"all": [{"attribute": "plan", "op": "like", "value": "p"}]},
                    "serve": {"variant": "blue"},
                }
            ]
        },
        "$.rules.rules[0].conditions.all[0].op",
    ),
    (
        "wrong value type",
        {
            "rules": [
                {
                    "type": "CONDITIONS",
                    "conditions": {"attribute": "seats", "op": "gt", "value": "ten"},
                    "serve": {"variant": "blue"},
                }
            ]
        },
        "$.rules.rules[0].conditions.value",
    ),
    ("percentage out of range", {"type": "PERCENTAGE", "value": 101}, "$.rules.value"),
    (
        "rollout out of range",
        {"rules": [{"type": "USERS", "users": ["u"], "serve": {"variant": "blue"}, "rollout": -1}]},
        "$.rules.rules[0].rollout",
    ),
    (
        "split not summing to 100",
        {"rules": [], "fallthrough": {"split": [{"variant": "blue", "weight": 60}]}},
        "$.rules.fallthrough.split",
    ),
]


@pytest.mark.parametrize(
    ("case", "rules", "field"), INVALID_RULES, ids=[c[0] for c in INVALID_RULES]
)
def test_rules__invalid_document__422_naming_the_field_and_nothing_stored(
    api: Api, case: str, rules: dict[str, Any], field: str
) -> None:
    # Given a string flag
    flag = api.string_flag()
    # When an invalid rule document is created, and written over a valid one
    created = api.rules(flag, rules)
    assert api.rules(flag, {"type": "PERCENTAGE", "value": 5}).status_code == 201
    updated = api.call("targeting", "PUT", f"/rules/{flag}", json={"rules": rules})
    # Then both are refused naming the field, and the valid document is what is stored
    for answer in (created, updated):
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field, answer.json()
    assert api.ok("targeting", "GET", f"/rules/{flag}")["rules"] == {
        "type": "PERCENTAGE",
        "value": 5,
    }


INVALID_FLAGS: list[tuple[str, dict[str, Any], str]] = [
    ("value of the wrong type", {"type": "number", "variants": {"a": 1, "b": "2"}}, "$.variants.b"),
    (
        "unknown off variant",
        {"type": "string", "variants": {"a": "x"}, "off_variant": "z"},
        "$.off_variant",
    ),
    (
        "no default variant",
        {"type": "json", "variants": {"a": {}}, "off_variant": "a"},
        "$.default_variant",
    ),
    ("no variants", {"type": "string"}, "$.variants"),
    ("boolean with a string", {"variants": {"on": "yes", "off": False}}, "$.variants.on"),
]


@pytest.mark.parametrize(
    ("case", "fields", "field"), INVALID_FLAGS, ids=[c[0] for c in INVALID_FLAGS]
)
def test_create_flag__invalid_variants__422_naming_the_field(
    api: Api, case: str, fields: dict[str, Any], field: str
) -> None:
    # Given / When
    name = f"bad_{uuid.uuid4().hex[:8]}"
    answer = api.call("flags", "POST", "/flags", json={"name": name, **fields})
    # Then
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert api.call("flags", "GET", f"/flags/{name}").status_code == 404


def test_update_flag__variant_or_type_rules_still_use__422_and_definition_kept(api: Api) -> None:
    # Given a string flag whose staging rule serves "green"
    flag = api.string_flag()
    rule = {"rules": [{"type": "USERS", "users": ["u"], "serve": {"variant": "green"}}]}
    made = api.call(
        "targeting",
        "POST",
        "/rules",
        params={"environment": "staging"},
        json={"flag_name": flag, "rules": rule},
    )
    assert made.status_code == 201, made.text
    # When "green" is removed, the type changed, or a value given the wrong type
    removed = api.call(
        "flags", "PUT", f"/flags/{flag}", json={"variants": {"control": "grey", "blue": "b"}}
    )
    retyped = api.call("flags", "PUT", f"/flags/{flag}", json={"type": "boolean"})
    mistyped = api.call("flags", "PUT", f"/flags/{flag}", json={"type": "number"})
    # Then each is refused naming the field, and the definition is unchanged
    assert removed.status_code == 422 and removed.json()["field"] == "$.variants"
    assert "staging" in removed.json()["error"]
    assert retyped.status_code == 422 and retyped.json()["field"] == "$.type"
    assert mistyped.status_code == 422 and mistyped.json()["field"] == "$.type"
    assert api.ok("flags", "GET", f"/flags/{flag}")["variants"] == COLOURS
    # And a change the rules still fit is accepted
    kept = api.ok("flags", "PUT", f"/flags/{flag}", json={"variants": {**COLOURS, "red": "#f00"}})
    assert kept["variants"]["red"] == "#f00"


def test_segments__key_bound_to_an_environment__cannot_change_them(
    api: Api, stack: DevStack
) -> None:
    # Given a key bound to staging
    made = requests.post(
        f"{stack.url_of('auth')}/admin/keys",
        json={"name": "staging-app", "environment": "staging"},
        headers={"Authorization": f"Bearer {stack.master_key}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    bound = Api(stack, made.json()["key"])
    # When it creates a segment, which every environment shares
    answer = bound.call("targeting", "POST", "/segments", json={"key": f"s-{uuid.uuid4().hex[:6]}"})
    # Then it is refused, though it may read them
    assert answer.status_code == 403, answer.text
    assert bound.call("targeting", "GET", "/segments").status_code == 200


@pytest.mark.parametrize(
    ("document", "field", "status"),
    [
        ({"conditions": {"attribute": "plan", "op": "nope", "value": 1}}, "$.conditions.op", 422),
        ({"conditions": {"any": []}}, "$.conditions.any", 422),
        ({"included": [""]}, "$.included[0]", 422),
        ({"included": "ana"}, None, 422),
    ],
)
def test_create_segment__invalid_document__refused_naming_the_field(
    api: Api, document: dict[str, Any], field: str | None, status: int
) -> None:
    # Given / When
    key = f"bad-{uuid.uuid4().hex[:6]}"
    answer = api.call("targeting", "POST", "/segments", json={"key": key, **document})
    # Then
    assert answer.status_code == status, answer.text
    if field is not None:
        assert answer.json()["field"] == field
    assert api.call("targeting", "GET", f"/segments/{key}").status_code == 404
