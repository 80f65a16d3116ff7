"""The OpenFeature Remote Evaluation Protocol over real HTTP: every status and body the
published description allows, checked against it (`ofrep_spec`), plus ToggleMaster's
promises on top: `variant` and `errorDetails` always, freshness in `metadata`, an ETag
that moves with the environment's configuration and nothing else, and no body on 401/403.

The evaluation processes learn about writes from change notices, so a test that has just
written polls until the answer reflects the write (a bounded wait, never a sleep).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import requests

from functions.devstack.stack import DevStack
from tests.e2e.ofrep_spec import (
    BULK_PATH,
    REASONS,
    SINGLE_PATH,
    TM_BULK_FAILURE,
    TM_BULK_SUCCESS,
    TM_FAILURE,
    TM_NOT_FOUND,
    TM_SUCCESS,
    assert_valid,
)
from tests.e2e.polling import eventually

pytestmark = pytest.mark.e2e

T = TypeVar("T")
"""Propagation is promised within 100 ms; this only bounds a test that would otherwise hang."""

RUN = uuid.uuid4().hex[:8]
COLOURS = {"off": "none", "control": "grey", "blue": "#00f", "green": "#0f0"}
SHAPES: dict[str, Any] = {
    "light": {"theme": "light", "size": 1},
    "dark": {"theme": "dark", "size": 2, "tags": ["a", "b"], "nested": {"beta": True}},
}
HALVES = [{"variant": "blue", "weight": 50}, {"variant": "green", "weight": 50}]

BOOL = f"ofrep_bool_{RUN}"
COLOUR = f"ofrep_colour_{RUN}"
INT = f"ofrep_int_{RUN}"
FLOAT = f"ofrep_float_{RUN}"
SHAPE = f"ofrep_shape_{RUN}"
OFF = f"ofrep_off_{RUN}"
ARCHIVED = f"ofrep_archived_{RUN}"
SPLIT = f"ofrep_split_{RUN}"
ORG_SPLIT = f"ofrep_org_split_{RUN}"
STAGING_ONLY = f"ofrep_staging_{RUN}"
MISSING = f"ofrep_missing_{RUN}"

ANA = {"targetingKey": "ana"}
ZED = {"targetingKey": "zed", "plan": "free"}
PRO = {"targetingKey": "zed", "plan": "pro"}

# (flag, context, value, variant, reason); reason None: rules ran and none matched, which
# OFREP has no reason for (no DEFAULT): any reason of its enum will do
DECISIONS: list[tuple[str, dict[str, Any], Any, str, str | None]] = [
    (BOOL, ZED, True, "on", "STATIC"),
    (COLOUR, ANA, "#00f", "blue", "TARGETING_MATCH"),
    (COLOUR, PRO, "#0f0", "green", "TARGETING_MATCH"),
    (COLOUR, ZED, "grey", "control", None),
    (INT, ZED, 10, "ten", "STATIC"),
    (FLOAT, ZED, 0.25, "quarter", "STATIC"),
    (SHAPE, ZED, SHAPES["dark"], "dark", "STATIC"),
    (OFF, ZED, False, "off", "DISABLED"),
    (ARCHIVED, ZED, False, "off", "DISABLED"),
]
DECISION_IDS = [
    "boolean-static",
    "string-user-rule",
    "string-condition-rule",
    "string-no-rule-matches",
    "integer",
    "float",
    "object",
    "disabled",
    "archived",
]
ETAG_SYNTAX = re.compile(r'^(W/)?"[\x21\x23-\x7e]*"$')
"""RFC 9110 entity-tag: optionally weak, always quoted."""


def shown(response: requests.Response) -> str:
    return f"{response.status_code} {dict(response.headers)} {response.text[:800]}"


def body_of(response: requests.Response) -> dict[str, Any]:
    assert response.headers.get("Content-Type", "").startswith("application/json"), shown(response)
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Ofrep:
    """The evaluation function's OFREP endpoints, with one key and how it is sent."""

    base_url: str
    key: str
    header: str = "bearer"

    def headers(self, key: str | None = None) -> dict[str, str]:
        key = self.key if key is None else key
        if self.header == "bearer":
            return {"Authorization": f"Bearer {key}"}
        return {"X-API-Key": key}

    def single(
        self, flag: str, context: dict[str, Any] | None = None, **kwargs: Any
    ) -> requests.Response:
        if "json" not in kwargs and "data" not in kwargs:
            kwargs["json"] = {"context": context}
        kwargs.setdefault("headers", self.headers())
        url = self.base_url + SINGLE_PATH.format(key=flag)
        return requests.post(url, timeout=10, **kwargs)

    def bulk(
        self,
        context: dict[str, Any] | None = None,
        etag: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        if "json" not in kwargs and "data" not in kwargs:
            kwargs["json"] = {"context": context}
        headers = dict(kwargs.pop("headers") if "headers" in kwargs else self.headers())
        if etag is not None:
            headers["If-None-Match"] = etag
        kwargs["headers"] = headers
        return requests.post(self.base_url + BULK_PATH, timeout=10, **kwargs)

    def answered(
        self, flag: str, context: dict[str, Any] | None = None, **kwargs: Any
    ) -> requests.Response:
        """The first answer that is not a 404: the flag has reached the process."""
        return eventually(
            lambda: self.single(flag, context, **kwargs),
            lambda r: r.status_code != 404,
            f"{flag} known to evaluation",
            shown,
        )

    def decided(self, flag: str, context: dict[str, Any], variant: str) -> requests.Response:
        """The answer once the flag is decided as `variant` for `context`."""
        return eventually(
            lambda: self.single(flag, context),
            lambda r: r.status_code == 200 and r.json().get("variant") == variant,
            f"{flag} serving {variant!r} to {context}",
            shown,
        )

    def settled_etag(self, context: dict[str, Any], unlike: str | None = None) -> str:
        """The bulk ETag once several answers in a row agree on it (and differ from
        `unlike`): answers from every worker process, caught up with the last write."""

        def sample() -> list[requests.Response]:
            return [self.bulk(context) for _ in range(4)]

        def agreed(responses: list[requests.Response]) -> bool:
            etags = {r.headers.get("ETag") for r in responses}
            return (
                all(r.status_code == 200 for r in responses)
                and len(etags) == 1
                and None not in etags
                and unlike not in etags
            )

        answers = eventually(
            sample,
            agreed,
            "a bulk ETag every worker agrees on",
            lambda rs: str(list(map(shown, rs))),
        )
        return str(answers[0].headers["ETag"])


class Admin:
    """Writes through the flags, targeting and auth functions."""

    def __init__(self, stack: DevStack, key: str) -> None:
        self.stack = stack
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def ok(self, function: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(
            method, self.stack.url_of(function) + path, timeout=10, **kwargs
        )
        assert response.status_code in (200, 201), shown(response)
        body: dict[str, Any] = response.json()
        return body

    def flag(self, name: str, environment: str | None = None, **fields: Any) -> None:
        params = {"environment": environment} if environment else None
        self.ok("flags", "POST", "/flags", params=params, json={"name": name, **fields})

    def colour_flag(self, name: str, rules: dict[str, Any] | None = None) -> None:
        self.flag(
            name,
            is_enabled=True,
            type="string",
            variants=COLOURS,
            off_variant="off",
            default_variant="control",
        )
        if rules is not None:
            self.ok("targeting", "POST", "/rules", json={"flag_name": name, "rules": rules})

    def set_enabled(self, flag: str, environment: str, enabled: bool) -> None:
        self.ok(
            "flags",
            "PUT",
            f"/flags/{flag}",
            params={"environment": environment},
            json={"is_enabled": enabled},
        )

    def environment(self) -> str:
        key = f"ofrep-{RUN}-{uuid.uuid4().hex[:6]}"
        self.ok("flags", "POST", "/environments", json={"key": key})
        return key

    def key(self, **fields: Any) -> dict[str, Any]:
        """A new key as auth describes it (`id`, `key`, ...), minted with the master key."""
        response = requests.post(
            f"{self.stack.url_of('auth')}/admin/keys",
            json={"name": f"ofrep-{RUN}", **fields},
            headers={"Authorization": f"Bearer {self.stack.master_key}"},
            timeout=10,
        )
        assert response.status_code == 201, shown(response)
        created: dict[str, Any] = response.json()
        return created

    def revoke(self, key_id: int) -> None:
        response = requests.post(
            f"{self.stack.url_of('auth')}/admin/keys/{key_id}/revoke",
            headers={"Authorization": f"Bearer {self.stack.master_key}"},
            timeout=10,
        )
        assert response.status_code == 200, shown(response)


@dataclass
class World:
    admin: Admin
    ofrep: Ofrep
    """An unbound key that may only evaluate, sent as a bearer token."""
    read_only: str
    staging: str
    """A key bound to staging that may evaluate."""


@pytest.fixture(scope="module")
def world(stack: DevStack, api_key: str) -> World:
    """Flags of every type and reason, and keys of every kind, made once for the module."""
    admin = Admin(stack, api_key)
    admin.flag(BOOL, is_enabled=True)
    conditions = {"attribute": "plan", "op": "eq", "value": "pro"}
    admin.colour_flag(
        COLOUR,
        {
            "rules": [
                {"type": "USERS", "users": ["ana"], "serve": {"variant": "blue"}},
                {"type": "CONDITIONS", "conditions": conditions, "serve": {"variant": "green"}},
            ]
        },
    )
    admin.flag(
        INT,
        is_enabled=True,
        type="number",
        variants={"one": 1, "ten": 10},
        off_variant="one",
        default_variant="ten",
    )
    admin.flag(
        FLOAT,
        is_enabled=True,
        type="number",
        variants={"quarter": 0.25, "half": 0.5},
        off_variant="half",
        default_variant="quarter",
    )
    admin.flag(
        SHAPE,
        is_enabled=True,
        type="json",
        variants=SHAPES,
        off_variant="light",
        default_variant="dark",
    )
    admin.flag(OFF, is_enabled=False)
    admin.flag(ARCHIVED, is_enabled=True)
    admin.ok("flags", "PUT", f"/flags/{ARCHIVED}", json={"archived": True})
    admin.colour_flag(SPLIT, {"rules": [], "fallthrough": {"split": HALVES}})
    admin.colour_flag(
        ORG_SPLIT, {"rules": [], "fallthrough": {"split": HALVES, "bucket_by": "org_id"}}
    )
    admin.flag(STAGING_ONLY, environment="staging", is_enabled=True)
    world = World(
        admin=admin,
        ofrep=Ofrep(stack.url_of("evaluation"), admin.key(scopes=["evaluate"])["key"]),
        read_only=admin.key(scopes=["read"])["key"],
        staging=admin.key(scopes=["evaluate"], environment="staging")["key"],
    )
    for flag, context, _, variant, _ in DECISIONS:
        world.ofrep.decided(flag, context, variant)
    return world


# -- single flag --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "context", "value", "variant", "reason"), DECISIONS, ids=DECISION_IDS
)
def test_single__each_type_and_reason__value_variant_reason_and_freshness(
    world: World,
    flag: str,
    context: dict[str, Any],
    value: Any,
    variant: str,
    reason: str | None,
) -> None:
    # Given the flag, decided for the context / When it is evaluated over OFREP
    answer = world.ofrep.decided(flag, context, variant)
    body = body_of(answer)
    # Then the body is a success as OFREP describes it, with everything we promise
    assert_valid(TM_SUCCESS, body)
    assert (body["key"], body["value"], body["variant"]) == (flag, value, variant)
    assert type(body["value"]) is type(value)  # 10 stays an integer, 0.25 a float
    if reason is not None:
        assert body["reason"] == reason
    assert body["reason"] in REASONS
    assert body["metadata"]["environment"] == "production"
    assert body["metadata"]["stale"] is False


def test_single__split__reason_split_and_sticky_per_user(world: World) -> None:
    # Given a flag splitting everyone 50/50 between blue and green
    users = [{"targetingKey": f"user-{i}"} for i in range(20)]
    # When twenty users are evaluated, twice
    first = [body_of(world.ofrep.answered(SPLIT, user)) for user in users]
    again = [body_of(world.ofrep.single(SPLIT, user)) for user in users]
    # Then each got a variant of the split, both variants are served, and nobody moved
    for body in first:
        assert_valid(TM_SUCCESS, body)
        assert body["reason"] == "SPLIT"
        assert body["value"] == COLOURS[body["variant"]]
    assert {body["variant"] for body in first} == {"blue", "green"}
    assert [body["variant"] for body in again] == [body["variant"] for body in first]


def test_single__x_api_key__same_answer_as_bearer(world: World) -> None:
    # Given the same key sent as X-API-Key
    by_header = Ofrep(world.ofrep.base_url, world.ofrep.key, header="x-api-key")
    # When a flag is evaluated both ways
    bearer = body_of(world.ofrep.decided(COLOUR, ANA, "blue"))
    api_key = body_of(by_header.decided(COLOUR, ANA, "blue"))
    # Then the decisions are the same
    assert_valid(TM_SUCCESS, api_key)
    assert [api_key[field] for field in ("key", "value", "variant", "reason")] == [
        bearer[field] for field in ("key", "value", "variant", "reason")
    ]


def test_single__unknown_flag__404_flag_not_found_naming_it(world: World) -> None:
    # Given / When a flag nobody made is evaluated
    answer = world.ofrep.single(MISSING, ANA)
    # Then
    assert answer.status_code == 404, shown(answer)
    body = body_of(answer)
    assert_valid(TM_NOT_FOUND, body)
    assert (body["key"], body["errorCode"]) == (MISSING, "FLAG_NOT_FOUND")


@pytest.mark.parametrize(
    ("request_body", "codes"),
    [
        ({"context": {}}, {"TARGETING_KEY_MISSING"}),
        ({"context": {"plan": "pro"}}, {"TARGETING_KEY_MISSING"}),
        ({"context": {"targetingKey": ""}}, {"TARGETING_KEY_MISSING", "INVALID_CONTEXT"}),
        ({"context": {"targetingKey": 7}}, {"TARGETING_KEY_MISSING", "INVALID_CONTEXT"}),
        ({}, {"TARGETING_KEY_MISSING", "INVALID_CONTEXT", "PARSE_ERROR"}),
        ({"context": "ana"}, {"INVALID_CONTEXT", "PARSE_ERROR"}),
        ([ANA], {"INVALID_CONTEXT", "PARSE_ERROR"}),
        (b'{"context": {"targetingKey": "ana"', {"PARSE_ERROR"}),
    ],
    ids=[
        "empty-context",
        "no-targeting-key",
        "empty-targeting-key",
        "numeric-targeting-key",
        "no-context",
        "context-not-object",
        "body-not-object",
        "not-json",
    ],
)
def test_single__bad_request__400_with_error_code_and_details(
    world: World, request_body: Any, codes: set[str]
) -> None:
    # Given an existing flag / When it is asked with a bad body
    if isinstance(request_body, bytes):
        sent: dict[str, Any] = {
            "data": request_body,
            "headers": {**world.ofrep.headers(), "Content-Type": "application/json"},
        }
    else:
        sent = {"json": request_body}
    answer = world.ofrep.answered(BOOL, **sent)
    # Then a 400 naming the flag, with a code of the protocol and why
    assert answer.status_code == 400, shown(answer)
    body = body_of(answer)
    assert_valid(TM_FAILURE, body)
    assert body["key"] == BOOL
    assert body["errorCode"] in codes
    assert body["errorDetails"]


def test_single__split_attribute_missing__400_targeting_key_missing(world: World) -> None:
    # Given a flag splitting by org_id
    # When it is asked for a context without org_id, then with one
    without = world.ofrep.answered(ORG_SPLIT, ANA)
    with_org = body_of(world.ofrep.single(ORG_SPLIT, {**ANA, "org_id": "acme"}))
    # Then the first cannot be decided, the second is a split
    assert without.status_code == 400, shown(without)
    body = body_of(without)
    assert_valid(TM_FAILURE, body)
    assert (body["key"], body["errorCode"]) == (ORG_SPLIT, "TARGETING_KEY_MISSING")
    assert_valid(TM_SUCCESS, with_org)
    assert with_org["reason"] == "SPLIT" and with_org["variant"] in ("blue", "green")


def test_environment__bound_key_or_parameter__decides_in_that_environment(
    world: World,
) -> None:
    # Given a flag enabled in staging only, and a key bound to staging
    staging = Ofrep(world.ofrep.base_url, world.staging)
    # When it is evaluated with the staging key, by parameter, and by default
    bound = body_of(staging.decided(STAGING_ONLY, ANA, "on"))
    named = body_of(world.ofrep.answered(STAGING_ONLY, ANA, params={"environment": "staging"}))
    default = body_of(world.ofrep.decided(STAGING_ONLY, ANA, "off"))
    bulk = body_of(staging.bulk(ANA))
    # Then staging serves it, production does not, and each answer says where it was decided
    for body in (bound, named):
        assert_valid(TM_SUCCESS, body)
        assert (body["value"], body["reason"]) == (True, "STATIC")
        assert body["metadata"]["environment"] == "staging"
    assert (default["value"], default["reason"]) == (False, "DISABLED")
    assert default["metadata"]["environment"] == "production"
    assert_valid(TM_BULK_SUCCESS, bulk)
    assert bulk["metadata"]["environment"] == "staging"
    assert {item["key"]: item.get("value") for item in bulk["flags"]}[STAGING_ONLY] is True


# -- authentication ------------------------------------------------------------------------


def _call(world: World, endpoint: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    if endpoint == "single":
        return world.ofrep.single(BOOL, ANA, headers=headers, **kwargs)
    return world.ofrep.bulk(ANA, headers=headers, **kwargs)


RANDOM_KEY = secrets.token_urlsafe(32)
UNAUTHENTICATED: list[dict[str, str]] = [
    {},
    {"Authorization": f"Bearer {RANDOM_KEY}"},
    {"X-API-Key": RANDOM_KEY},
    {"Authorization": "Bearer "},
    {"Authorization": f"Basic {RANDOM_KEY}"},
]


@pytest.mark.parametrize("endpoint", ["single", "bulk"])
@pytest.mark.parametrize(
    "headers",
    UNAUTHENTICATED,
    ids=["none", "unknown-bearer", "unknown-x-api-key", "empty-bearer", "basic"],
)
def test_auth__no_valid_key__401_without_body(
    world: World, endpoint: str, headers: dict[str, str]
) -> None:
    # Given / When
    answer = _call(world, endpoint, headers)
    # Then
    assert answer.status_code == 401, shown(answer)
    assert answer.content == b""


@pytest.mark.parametrize("endpoint", ["single", "bulk"])
@pytest.mark.parametrize("case", ["read-only-bearer", "read-only-x-api-key", "other-environment"])
def test_auth__key_not_allowed__403_without_body(world: World, endpoint: str, case: str) -> None:
    # Given a key without the evaluate scope, or bound to staging asking for production
    params: dict[str, str] = {}
    if case == "read-only-bearer":
        headers = {"Authorization": f"Bearer {world.read_only}"}
    elif case == "read-only-x-api-key":
        headers = {"X-API-Key": world.read_only}
    else:
        headers = {"Authorization": f"Bearer {world.staging}"}
        params = {"environment": "production"}
    # When
    answer = eventually(
        lambda: _call(world, endpoint, headers, params=params),
        lambda r: r.status_code != 401,
        "the key known to evaluation",
        shown,
    )
    # Then
    assert answer.status_code == 403, shown(answer)
    assert answer.content == b""


# -- bulk -----------------------------------------------------------------------------------


def test_bulk__every_flag_of_the_environment__decided_as_one_by_one(world: World) -> None:
    # Given the module's flags and every other flag of production
    listed = world.admin.session.get(world.admin.stack.url_of("flags") + "/flags", timeout=10)
    assert listed.status_code == 200, shown(listed)
    names = {flag["name"] for flag in listed.json()}
    expected = {flag: (value, variant, reason) for flag, _, value, variant, reason in DECISIONS}
    expected[COLOUR] = ("#00f", "blue", "TARGETING_MATCH")  # decided for ana here

    def complete(response: requests.Response) -> bool:
        if response.status_code != 200:
            return False
        items = {item["key"]: item for item in response.json()["flags"]}
        return names <= set(items) and all(
            items.get(flag, {}).get("variant") == variant
            for flag, (_, variant, _) in expected.items()
        )

    # When the whole environment is evaluated for ana
    answer = eventually(lambda: world.ofrep.bulk(ANA), complete, "a complete bulk", shown)
    # Then every flag is there once, each decided as the single endpoint decides it
    body = body_of(answer)
    assert_valid(TM_BULK_SUCCESS, body)
    keys = [item["key"] for item in body["flags"]]
    assert len(keys) == len(set(keys))
    items = {item["key"]: item for item in body["flags"]}
    for flag, (value, variant, reason) in expected.items():
        assert (items[flag]["value"], items[flag]["variant"]) == (value, variant), items[flag]
        assert items[flag]["reason"] == (reason or items[flag]["reason"])
    assert body["metadata"]["environment"] == "production"
    assert body["metadata"]["stale"] is False
    assert ETAG_SYNTAX.match(answer.headers.get("ETag", "")), shown(answer)


def test_bulk__one_flag_cannot_be_decided__item_failure_beside_successes(world: World) -> None:
    # Given a flag splitting by org_id, which ana's context lacks
    def has_split(response: requests.Response) -> bool:
        return response.status_code == 200 and ORG_SPLIT in {
            item["key"] for item in response.json()["flags"]
        }

    # When the environment is evaluated for ana
    body = body_of(eventually(lambda: world.ofrep.bulk(ANA), has_split, "the split flag", shown))
    # Then that flag is a failure item, and the others still succeed
    assert_valid(TM_BULK_SUCCESS, body)
    items = {item["key"]: item for item in body["flags"]}
    assert items[ORG_SPLIT]["errorCode"] == "TARGETING_KEY_MISSING", items[ORG_SPLIT]
    assert items[ORG_SPLIT]["errorDetails"]
    assert "value" not in items[ORG_SPLIT]
    assert (items[BOOL]["value"], items[BOOL]["reason"]) == (True, "STATIC")


@pytest.mark.parametrize(
    ("request_body", "codes"),
    [
        ({"context": {}}, {"TARGETING_KEY_MISSING"}),
        ({"context": {"plan": "pro"}}, {"TARGETING_KEY_MISSING"}),
        ({"context": "ana"}, {"INVALID_CONTEXT", "PARSE_ERROR"}),
        (b"{not json", {"PARSE_ERROR"}),
    ],
    ids=["empty-context", "no-targeting-key", "context-not-object", "not-json"],
)
def test_bulk__bad_request__400_with_error_code_and_details(
    world: World, request_body: Any, codes: set[str]
) -> None:
    # Given / When
    if isinstance(request_body, bytes):
        headers = {**world.ofrep.headers(), "Content-Type": "application/json"}
        answer = world.ofrep.bulk(data=request_body, headers=headers)
    else:
        answer = world.ofrep.bulk(json=request_body)
    # Then
    assert answer.status_code == 400, shown(answer)
    body = body_of(answer)
    assert_valid(TM_BULK_FAILURE, body)
    assert body["errorCode"] in codes
    assert body["errorDetails"]
    assert "ETag" not in answer.headers


def test_bulk_etag__moves_with_its_environment_only(world: World) -> None:
    # Given a new environment, a flag that is off there, and a key bound to it
    admin = world.admin
    environment = admin.environment()
    toggled = f"ofrep_toggled_{uuid.uuid4().hex[:8]}"
    admin.flag(toggled, is_enabled=True)  # on in production, off everywhere else
    bound = Ofrep(
        world.ofrep.base_url, admin.key(scopes=["evaluate"], environment=environment)["key"]
    )
    first = eventually(
        lambda: bound.bulk(ANA),
        lambda r: r.status_code == 200 and toggled in r.text,
        "the new environment, key and flag known to evaluation",
        shown,
    )
    etag = bound.settled_etag(ANA)
    version = body_of(first)["metadata"]["config_version"]

    # When the same request is repeated, with and without the ETag
    repeated = bound.bulk(ANA)
    unchanged = bound.bulk(ANA, etag=etag)
    other_etag = bound.bulk(ANA, etag='"not-the-current-one"')
    other_user = bound.bulk(PRO, etag=etag)
    # Then the ETag holds; a match is a 304 without body, anything else a full answer
    assert repeated.status_code == 200 and repeated.headers["ETag"] == etag, shown(repeated)
    assert unchanged.status_code == 304, shown(unchanged)
    assert unchanged.content == b""
    assert unchanged.headers.get("ETag") == etag
    assert other_etag.status_code == 200, shown(other_etag)
    # another context is another answer: a client that changed user must not keep ana's flags
    assert other_user.status_code == 200, shown(other_user)

    # When production changes, and keys are minted and revoked
    admin.set_enabled(toggled, "production", False)
    world.ofrep.decided(toggled, ANA, "off")
    world.ofrep.settled_etag(ANA)
    minted = admin.key(scopes=["evaluate"], environment=environment)
    newcomer = Ofrep(world.ofrep.base_url, minted["key"])
    eventually(lambda: newcomer.bulk(ANA), _ok, "the minted key accepted", shown)
    admin.revoke(int(minted["id"]))
    revoked = eventually(
        lambda: newcomer.bulk(ANA),
        lambda r: r.status_code == 401,
        "the revoked key refused",
        shown,
    )
    # Then this environment's ETag has not moved
    assert revoked.content == b""
    assert bound.settled_etag(ANA) == etag
    assert bound.bulk(ANA, etag=etag).status_code == 304

    # When the flag is switched on in this environment
    admin.set_enabled(toggled, environment, True)
    changed = bound.settled_etag(ANA, unlike=etag)
    # Then the old ETag gets the new decisions, the new one a 304
    fresh = bound.bulk(ANA, etag=etag)
    assert fresh.status_code == 200, shown(fresh)
    body = body_of(fresh)
    assert_valid(TM_BULK_SUCCESS, body)
    assert {item["key"]: item.get("reason") for item in body["flags"]}[toggled] == "STATIC"
    assert body["metadata"]["config_version"] > version
    assert ETAG_SYNTAX.match(changed), changed
    assert bound.bulk(ANA, etag=changed).status_code == 304


def _ok(response: requests.Response) -> bool:
    return response.status_code == 200


# -- description ------------------------------------------------------------------------


def test_openapi__evaluation_describes_both_ofrep_endpoints(stack: DevStack) -> None:
    # Given / When
    answer = requests.get(f"{stack.url_of('evaluation')}/openapi.json", timeout=10)
    # Then
    assert answer.status_code == 200, shown(answer)
    paths = answer.json()["paths"]
    assert "post" in paths.get(BULK_PATH, {}), sorted(paths)
    single = [path for path in paths if re.fullmatch(r"/ofrep/v1/evaluate/flags/\{[^}]+\}", path)]
    assert len(single) == 1 and "post" in paths[single[0]], sorted(paths)
