"""Prerequisites over real HTTP: decided through OFREP, cycles refused by rules, import and
promotion, required flags kept from deletion and archiving (issue 20)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack
from tests.e2e.stack_api import Api as StackApi

pytestmark = pytest.mark.e2e


class Api(StackApi):
    """Flags that require others."""

    def flag(self, **params: str) -> str:
        name = f"pre_{uuid.uuid4().hex[:8]}"
        made = self.call(
            "flags", "POST", "/flags", params=params, json={"name": name, "is_enabled": True}
        )
        assert made.status_code == 201, made.text
        return name

    def rules(self, flag: str, document: dict[str, Any], **params: str) -> requests.Response:
        return self.call(
            "targeting",
            "POST",
            "/rules",
            params=params,
            json={"flag_name": flag, "rules": document},
        )

    def ofrep(self, flag: str, context: dict[str, Any]) -> requests.Response:
        return self.call(
            "evaluation", "POST", f"/ofrep/v1/evaluate/flags/{flag}", json={"context": context}
        )


def _requires(*flags: str) -> dict[str, Any]:
    return {"prerequisites": [{"flag": f, "variants": ["on"]} for f in flags], "rules": []}


@pytest.fixture
def api(stack: DevStack, api_key: str) -> Api:
    return Api(stack, api_key)


def test_ofrep__prerequisite_off_for_the_context__disabled_with_prerequisite_failed(
    api: Api,
) -> None:
    # Given checkout requires payments, on in Portugal only
    payments, checkout = api.flag(), api.flag()
    only_pt = {
        "rules": [
            {
                "type": "CONDITIONS",
                "conditions": {"attribute": "country", "op": "eq", "value": "PT"},
                "serve": {"variant": "on"},
            }
        ],
        "fallthrough": {"variant": "off"},
    }
    assert api.rules(payments, only_pt).status_code == 201
    assert api.rules(checkout, _requires(payments)).status_code == 201

    # When a Spanish and a Portuguese user ask through OFREP
    spanish = api.ofrep(checkout, {"targetingKey": "u1", "country": "ES"})
    portuguese = api.ofrep(checkout, {"targetingKey": "u1", "country": "PT"})

    # Then the Spanish one gets the off variant, reason DISABLED, the cause in metadata
    assert spanish.status_code == 200, spanish.text
    body = spanish.json()
    assert (body["value"], body["variant"], body["reason"]) == (False, "off", "DISABLED")
    assert body["metadata"]["reason"] == "PREREQUISITE_FAILED"
    assert body["metadata"]["prerequisite"] == payments
    assert portuguese.json()["value"] is True
    # and POST /evaluate names the reason and the prerequisite as they are
    plain = api.call(
        "evaluation",
        "POST",
        "/evaluate",
        json={"flag_name": checkout, "context": {"user_id": "u1", "country": "ES"}},
    ).json()
    assert (plain["reason"], plain["prerequisite"], plain["result"]) == (
        "PREREQUISITE_FAILED",
        payments,
        False,
    )


def test_put_rules__prerequisite_cycle__422_naming_the_path(api: Api) -> None:
    # Given a requires b requires c
    a, b, c = api.flag(), api.flag(), api.flag()
    assert api.rules(a, _requires(b)).status_code == 201
    assert api.rules(b, _requires(c)).status_code == 201

    # When c is made to require a
    answer = api.rules(c, _requires(a))

    # Then
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "prerequisite_cycle"
    assert body["cycle"] == [c, a, b, c]
    assert body["field"] == "$.rules.prerequisites[0].flag"
    assert api.call("targeting", "GET", f"/rules/{c}").status_code == 404


def test_put_rules__prerequisite_missing_or_unknown_variant__422(api: Api) -> None:
    # Given
    a, b = api.flag(), api.flag()

    # When
    missing = api.rules(a, _requires(f"nobody_{uuid.uuid4().hex[:6]}"))
    variant = api.rules(a, {"prerequisites": [{"flag": b, "variants": ["maybe"]}], "rules": []})

    # Then
    assert missing.status_code == 422, missing.text
    assert missing.json()["field"] == "$.rules.prerequisites[0].flag"
    assert variant.status_code == 422, variant.text
    assert variant.json()["field"] == "$.rules.prerequisites[0].variants[0]"


def test_delete_and_archive__flag_others_require__409_listing_them(api: Api) -> None:
    # Given checkout requires payments
    payments, checkout = api.flag(), api.flag()
    assert api.rules(checkout, _requires(payments)).status_code == 201

    # When payments is deleted, then archived
    deleted = api.call("flags", "DELETE", f"/flags/{payments}")
    archived = api.call("flags", "PUT", f"/flags/{payments}", json={"archived": True})

    # Then both are refused, naming checkout; once the rule goes, deleting works
    for answer in (deleted, archived):
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "flag_required"
        assert answer.json()["required_by"] == [checkout]
    assert api.call("targeting", "DELETE", f"/rules/{checkout}").status_code == 204
    assert api.call("flags", "DELETE", f"/flags/{payments}").status_code == 204


def test_import__prerequisite_cycle__422_and_nothing_applied(api: Api) -> None:
    # Given a document in which two flags require each other in staging
    a, b = f"imp_{uuid.uuid4().hex[:8]}", f"imp_{uuid.uuid4().hex[:8]}"

    def flag(name: str, other: str) -> dict[str, Any]:
        rule = {"enabled": True, "rules": _requires(other)}
        return {"name": name, "environments": {"staging": {"enabled": True, "rule": rule}}}

    document = {
        "version": 1,
        "environments": [{"key": "staging"}],
        "flags": [flag(a, b), flag(b, a)],
    }

    # When it is imported
    answer = api.call("flags", "POST", "/import", json=document)

    # Then it is refused naming the cycle, and neither flag exists
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "prerequisite_cycle"
    assert body["cycle"] == [a, b, a]
    assert body["field"] == "$.flags[0].environments.staging.rule.rules.prerequisites[0].flag"
    assert api.call("flags", "GET", f"/flags/{a}").status_code == 404


def test_promote__rule_closing_a_cycle_in_the_target__422_and_target_unchanged(api: Api) -> None:
    # Given a requires b in production, and b requires a in staging
    a, b = api.flag(), api.flag()
    assert api.rules(a, _requires(b)).status_code == 201
    assert api.rules(b, _requires(a), environment="staging").status_code == 201

    # When b's staging rule is promoted to production
    answer = api.call(
        "flags", "POST", f"/flags/{b}/promote", json={"from": "staging", "to": "production"}
    )

    # Then
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "prerequisite_cycle"
    assert answer.json()["cycle"] == [b, a, b]
    assert api.call("targeting", "GET", f"/rules/{b}").status_code == 404


def test_delete_segment__named_by_a_segment_clause__409_naming_the_flag(api: Api) -> None:
    # Given a rule that names a segment inside its conditions
    key = f"seg-{uuid.uuid4().hex[:8]}"
    assert api.call("targeting", "POST", "/segments", json={"key": key}).status_code == 201
    flag = api.flag()
    clause = {"any": [{"not": {"segment": key}}]}
    document = {"rules": [{"type": "CONDITIONS", "conditions": clause, "serve": {"variant": "on"}}]}
    assert api.rules(flag, document).status_code == 201

    # When the segment is deleted
    answer = api.call("targeting", "DELETE", f"/segments/{key}")

    # Then it is refused, naming the flag
    assert answer.status_code == 409, answer.text
    assert answer.json()["flags"] == [flag]
