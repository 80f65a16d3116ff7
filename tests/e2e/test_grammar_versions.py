"""Grammar versions over real HTTP: documents written now read numeric strings as numbers
and skip a rule that cannot bucket; rows written before (or by a process that predates
grammars) keep their meaning through evaluation, promotion and export/import."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb

from functions.devstack.stack import DevStack
from tests.e2e.stack_api import Api as StackApi

pytestmark = pytest.mark.e2e

_ADULTS = {
    "rules": [
        {
            "type": "CONDITIONS",
            "conditions": {"attribute": "age", "op": "gt", "value": 18},
            "serve": {"variant": "on"},
        }
    ],
    "fallthrough": {"variant": "off"},
}


class Api(StackApi):
    """Flags with a rule per environment, and their grammar."""

    def flag(self) -> str:
        name = f"gram_{uuid.uuid4().hex[:8]}"
        for environment in ("production", "staging"):
            made = self.call(
                "flags",
                "PUT" if environment == "staging" else "POST",
                f"/flags/{name}" if environment == "staging" else "/flags",
                params={"environment": environment},
                json={"is_enabled": True}
                if environment == "staging"
                else {"name": name, "is_enabled": True},
            )
            assert made.status_code in (200, 201), made.text
        return name

    def evaluate(self, flag: str, **attributes: str) -> bool:
        answer = self.call(
            "evaluation",
            "GET",
            "/evaluate",
            params={"user_id": "u1", "flag_name": flag, **attributes},
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()["result"]
        assert isinstance(result, bool)
        return result

    def insert_as_an_old_process(self, flag: str, environment: str, document: Any) -> None:
        """A row as a process that predates grammars writes it: no grammar column named."""
        with psycopg.connect(self.stack.flags_database_url) as conn:
            conn.execute(
                "INSERT INTO targeting_rules (flag_name, environment, rules) VALUES (%s, %s, %s)",
                (flag, environment, Jsonb(document)),
            )
        self.stack.settle()


@pytest.fixture
def api(stack: DevStack, api_key: str) -> Api:
    return Api(stack, api_key)


def test_rule_written_now__age_gt_18__matches_age_sent_as_a_string(api: Api) -> None:
    # Given a newcomer's rule, written now
    flag = api.flag()
    made = api.call("targeting", "POST", "/rules", json={"flag_name": flag, "rules": _ADULTS})

    # Then it is stored in grammar 2, beside the document, and shown on every read
    assert made.status_code == 201, made.text
    assert made.json()["grammar"] == 2
    assert "grammar" not in made.json()["rules"]
    assert api.call("targeting", "GET", f"/rules/{flag}").json()["grammar"] == 2

    # and GET /evaluate, which sends every attribute as a string, compares ages as numbers
    assert api.evaluate(flag, age="20") is True
    assert api.evaluate(flag, age="18") is False
    assert api.evaluate(flag, age="twenty") is False


def test_rule_stored_before_grammars__age_gt_18__keeps_not_matching_a_string(api: Api) -> None:
    # Given the same rule as a process that predates grammars stored it
    flag = api.flag()
    api.insert_as_an_old_process(flag, "production", _ADULTS)

    # Then it is grammar 1, and "20" stays a string, as it always was
    assert api.call("targeting", "GET", f"/rules/{flag}").json()["grammar"] == 1
    assert api.evaluate(flag, age="20") is False

    # and rewriting its document writes it in grammar 2 (changing is_enabled alone does not)
    same = api.call("targeting", "PUT", f"/rules/{flag}", json={"is_enabled": True})
    assert same.json()["grammar"] == 1
    rewritten = api.call("targeting", "PUT", f"/rules/{flag}", json={"rules": _ADULTS})
    assert rewritten.json()["grammar"] == 2
    assert api.evaluate(flag, age="20") is True


def test_grammar_sent_back__refused_as_a_read_only_field(api: Api) -> None:
    # Given a rule as GET shows it
    flag = api.flag()
    api.call("targeting", "POST", "/rules", json={"flag_name": flag, "rules": _ADULTS})
    shown = api.call("targeting", "GET", f"/rules/{flag}").json()

    # When a client sends its grammar back, as it would updated_at
    answer = api.call(
        "targeting", "PUT", f"/rules/{flag}", json={"rules": _ADULTS, "grammar": shown["grammar"]}
    )

    # Then it is refused, naming the field, and nothing changed
    assert 400 <= answer.status_code < 500, answer.text
    assert "grammar" in answer.json()["error"]
    assert (
        api.call("targeting", "GET", f"/rules/{flag}").json()["updated_at"] == (shown["updated_at"])
    )


def test_promote__grammar_1_rule__copied_with_its_grammar(api: Api) -> None:
    # Given a rule stored before grammars in staging, and none in production
    flag = api.flag()
    api.insert_as_an_old_process(flag, "staging", _ADULTS)

    # When it is promoted to production
    answer = api.call(
        "flags", "POST", f"/flags/{flag}/promote", json={"from": "staging", "to": "production"}
    )

    # Then production holds it in grammar 1 and decides as staging does
    assert answer.status_code == 200, answer.text
    assert answer.json()["changes"]["rule"]["to"]["grammar"] == 1
    assert api.call("targeting", "GET", f"/rules/{flag}").json()["grammar"] == 1
    assert api.evaluate(flag, age="20") is False
    assert api.evaluate(flag, age="20", environment="staging") is False


def test_export_import__grammars_kept_per_document(
    api: Api, api_key: str, empty_flags: FlaskClient
) -> None:
    # Given a rule of each grammar, and a segment stored before grammars
    old, new = api.flag(), api.flag()
    api.insert_as_an_old_process(old, "production", _ADULTS)
    api.call("targeting", "POST", "/rules", json={"flag_name": new, "rules": _ADULTS})
    segment = f"gram-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(api.stack.flags_database_url) as conn:
        conn.execute(
            "INSERT INTO segments (key, document) VALUES (%s, %s)",
            (segment, Jsonb({"key": segment, "included": ["u1"], "excluded": []})),
        )
    api.stack.settle()

    # When production's export, cut to these, is imported into an empty database
    exported = api.call("flags", "GET", "/export", params={"environment": "production"}).json()
    exported["flags"] = [f for f in exported["flags"] if f["name"] in (old, new)]
    exported["segments"] = [s for s in exported["segments"] if s["key"] == segment]
    headers = {"Authorization": f"Bearer {api_key}"}
    imported = empty_flags.post("/import", json=exported, headers=headers)
    again = empty_flags.get("/export", headers=headers).get_json()

    # Then every document says its grammar, and the import kept each
    assert imported.status_code == 200, imported.get_data(as_text=True)
    grammars = {
        f["name"]: f["environments"]["production"]["rule"]["grammar"] for f in exported["flags"]
    }
    assert grammars == {old: 1, new: 2}
    assert exported["segments"][0]["grammar"] == 1
    assert {
        f["name"]: f["environments"]["production"]["rule"]["grammar"] for f in again["flags"]
    } == grammars
    assert [s["grammar"] for s in again["segments"]] == [1]
    # and importing it once more changes nothing
    twice = empty_flags.post("/import", json=exported, headers=headers).get_json()
    assert twice["applied"] is False


def test_import__rule_without_grammar__written_in_grammar_2(api: Api, api_key: str) -> None:
    # Given a hand-written file that does not say a grammar, for staging only
    flag = api.flag()
    exported = api.call("flags", "GET", "/export", params={"environment": "staging"}).json()
    for spec in exported["flags"]:
        if spec["name"] == flag:
            spec["environments"]["staging"]["rule"] = {"enabled": True, "rules": _ADULTS}

    # When it is imported
    answer = api.call("flags", "POST", "/import", json=exported)

    # Then the rule is grammar 2
    assert answer.status_code == 200, answer.text
    rule = api.call("targeting", "GET", f"/rules/{flag}", params={"environment": "staging"})
    assert rule.json()["grammar"] == 2
    assert api.evaluate(flag, age="20", environment="staging") is True


@pytest.mark.parametrize("bucket_by", ["session_id", ["session_id"]])
def test_rule_split__bucket_by_absent__next_rule_decides(api: Api, bucket_by: object) -> None:
    # Given a first rule split by session, written now, then a fallthrough serving on
    flag = api.flag()
    document = {
        "rules": [
            {
                "type": "PERCENTAGE",
                "value": 100,
                "serve": {"split": [{"variant": "off", "weight": 100}], "bucket_by": bucket_by},
            }
        ],
        "fallthrough": {"variant": "on"},
    }
    made = api.call("targeting", "POST", "/rules", json={"flag_name": flag, "rules": document})
    assert made.status_code == 201, made.text

    # When / Then without a session the next rule (the fallthrough) decides; with one, the split
    assert api.evaluate(flag) is True
    assert api.evaluate(flag, session_id="s1") is False


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fallthrough_split__bucket_by_absent__error_with_its_code(api: Api, method: str) -> None:
    # Given a flag whose fallthrough splits by organisation
    flag = api.flag()
    split = [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
    document = {"rules": [], "fallthrough": {"split": split, "bucket_by": "org_id"}}
    made = api.call("targeting", "POST", "/rules", json={"flag_name": flag, "rules": document})
    assert made.status_code == 201, made.text
    # When a user without an organisation asks, by query or by body
    if method == "GET":
        answer = api.call(
            "evaluation", "GET", "/evaluate", params={"user_id": "u1", "flag_name": flag}
        )
    else:
        body = {"flag_name": flag, "context": {"user_id": "u1"}}
        answer = api.call("evaluation", "POST", "/evaluate", json=body)
    # Then the answer says why it is an error, as the bulk answer and OFREP do
    assert answer.status_code == 200, answer.text
    decided = answer.json()
    assert (decided["reason"], decided["error_code"]) == ("ERROR", "TARGETING_KEY_MISSING")


def test_segment_written_now__grammar_2_shown(api: Api) -> None:
    # Given a segment written now
    key = f"gram-{uuid.uuid4().hex[:8]}"
    made = api.call(
        "targeting",
        "POST",
        "/segments",
        json={"key": key, "conditions": {"attribute": "age", "op": "gte", "value": 18}},
    )

    # Then its answers carry the grammar beside the document
    assert made.status_code == 201, made.text
    assert made.json()["grammar"] == 2
    assert api.call("targeting", "GET", f"/segments/{key}").json()["grammar"] == 2
