"""The snapshot as a value: changes build a new one, the old one stays as it was."""

from __future__ import annotations

from typing import Any

from functions.core import engine
from functions.core.snapshot.state import (
    EMPTY,
    Change,
    Version,
    config_snapshot,
    with_all_keys,
)

V1 = Version("epoch-a", 1)


def flag(
    name: str, *, states: dict[str, bool], rules: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "boolean",
        "variants": {"on": True, "off": False},
        "off_variant": "off",
        "default_variant": "on",
        "archived": False,
        "states": states,
        "rules": rules or {},
    }


def base() -> Any:
    documents = {
        ("environment", "production"): {"key": "production", "name": "Production"},
        ("environment", "staging"): {"key": "staging", "name": "Staging"},
        ("flag", "checkout"): flag("checkout", states={"production": True, "staging": False}),
        (
            "flag",
            "beta",
        ): flag(
            "beta",
            states={"production": True},
            rules={
                "production": {
                    "is_enabled": True,
                    "rules": {
                        "rules": [
                            {"type": "SEGMENT", "segments": ["staff"], "serve": {"variant": "on"}}
                        ],
                        "fallthrough": {"variant": "off"},
                    },
                }
            },
        ),
        ("segment", "staff"): {"key": "staff", "included": ["ana"]},
    }
    return config_snapshot(V1, documents, {"production": 1, "staging": 1})


def key_document(key_id: int, key_hash: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": key_id,
        "key_hash": key_hash,
        "name": f"key {key_id}",
        "scopes": ["evaluate"],
        "environment": None,
        "expires_at": None,
        "active": True,
        **fields,
    }


def decide(snapshot: Any, environment: str, name: str, user: str) -> engine.Resolution:
    config = snapshot.flag(environment, name)
    return engine.evaluate(
        config.definition, config.enabled, config.ruleset, {"user_id": user}, config.segments
    )


def test_flags_decide_per_environment() -> None:
    snapshot = base()
    assert decide(snapshot, "production", "checkout", "u").value is True
    assert decide(snapshot, "staging", "checkout", "u").reason is engine.Reason.DISABLED


def test_an_unknown_flag_is_not_found_and_is_not_remembered() -> None:
    snapshot = base()
    assert snapshot.flag("production", "nope").definition is None
    assert ("production", "nope") not in snapshot._compiled


def test_segments_decide_and_a_segment_change_recompiles() -> None:
    snapshot = base()
    assert decide(snapshot, "production", "beta", "ana").value is True
    assert decide(snapshot, "production", "beta", "bob").value is False
    changed = snapshot.with_config(
        Version("epoch-a", 2),
        [Change("segment", "staff", None, {"key": "staff", "included": ["bob"]})],
    )
    assert decide(changed, "production", "beta", "bob").value is True
    assert decide(changed, "production", "beta", "ana").value is False
    assert decide(snapshot, "production", "beta", "ana").value is True, "the old one is unchanged"


def test_a_flag_change_replaces_only_that_flag() -> None:
    snapshot = base()
    decide(snapshot, "production", "beta", "ana")
    decide(snapshot, "production", "checkout", "ana")
    changed = snapshot.with_config(
        Version("epoch-a", 2),
        [Change("flag", "checkout", "production", flag("checkout", states={"production": False}))],
    )
    assert decide(changed, "production", "checkout", "u").reason is engine.Reason.DISABLED
    assert ("production", "beta") in changed._compiled
    assert changed.config == Version("epoch-a", 2)


def test_a_deleted_flag_is_not_found() -> None:
    changed = base().with_config(Version("epoch-a", 2), [Change("flag", "checkout", None, None)])
    assert changed.flag("production", "checkout").definition is None
    assert "checkout" not in changed.flag_names()


def test_the_etag_moves_only_for_the_environment_changed() -> None:
    snapshot = base()
    staging_change = snapshot.with_config(
        Version("epoch-a", 2),
        [Change("flag", "checkout", "staging", flag("checkout", states={"staging": True}))],
    )
    assert staging_change.etag("production") == snapshot.etag("production")
    assert staging_change.etag("staging") != snapshot.etag("staging")
    everywhere = staging_change.with_config(
        Version("epoch-a", 3), [Change("flag", "checkout", None, flag("checkout", states={}))]
    )
    assert everywhere.etag("production") != staging_change.etag("production")
    assert everywhere.etag("staging") != staging_change.etag("staging")


def test_keys_change_by_id_and_inactive_keys_are_left_out() -> None:
    snapshot = with_all_keys(
        base(),
        Version("keys-a", 5),
        [key_document(1, "a" * 64), key_document(2, "b" * 64, active=False)],
    )
    assert snapshot.grant("a" * 64, now=0) is not None
    assert snapshot.grant("b" * 64, now=0) is None
    revoked = snapshot.with_keys(
        Version("keys-a", 6), [Change("key", "1", None, key_document(1, "a" * 64, active=False))]
    )
    assert revoked.grant("a" * 64, now=0) is None
    assert snapshot.grant("a" * 64, now=0) is not None
    assert revoked.etag("production") == snapshot.etag("production"), "keys are not config"


def test_an_expired_key_is_refused_by_the_clock() -> None:
    snapshot = with_all_keys(
        EMPTY, Version("k", 1), [key_document(1, "c" * 64, expires_at="2030-01-01T00:00:00+00:00")]
    )
    assert snapshot.grant("c" * 64, now=1.0) is not None
    assert snapshot.grant("c" * 64, now=4_000_000_000.0) is None


def test_a_deleted_environment_goes_with_its_compiled_flags() -> None:
    snapshot = base()
    decide(snapshot, "staging", "checkout", "u")
    changed = snapshot.with_config(
        Version("epoch-a", 2), [Change("environment", "staging", None, None)]
    )
    assert "staging" not in changed.environments
    assert ("staging", "checkout") not in changed._compiled
