"""Tokens that passed the key check are remembered for the keys they passed against, and
for nothing else."""

from __future__ import annotations

from functions.core.keys import passed_tokens
from functions.core.keys.passed_tokens import PassedTokens
from functions.core.models.keys import Grant

TOKEN = "tm_key_" + "a" * 40


def _grant(key_id: int = 1, environment: str | None = "production") -> Grant:
    return Grant(
        key_id=key_id,
        name=f"key-{key_id}",
        scopes=frozenset({"evaluate"}),
        environment=environment,
        expires_at=None,
    )


def test_remember__then_get__the_grant_and_its_caller() -> None:
    # Given a token that passed against one keys mapping
    grants = {"hash": _grant()}
    passed = PassedTokens()
    caller = passed.remember(grants, TOKEN, grants["hash"])
    # When it is asked for against the same mapping
    found = passed.get(grants, TOKEN)
    # Then the grant and the very caller built for it come back
    assert found == (grants["hash"], caller)
    assert (caller.key_id, caller.environment) == (1, "production")
    assert caller.scopes == frozenset({"evaluate"})


def test_get__another_keys_mapping__nothing_even_with_the_same_contents() -> None:
    # Given a token remembered against one keys mapping
    grants = {"hash": _grant()}
    passed = PassedTokens()
    passed.remember(grants, TOKEN, grants["hash"])
    # When the keys change (a new mapping: revocation, rotation, a scope change)
    changed = dict(grants)
    # Then nothing is remembered for it, and nothing for a token never seen
    assert passed.get(changed, TOKEN) is None
    assert passed.get(grants, TOKEN + "x") is None


def test_remember__against_new_keys__forgets_what_passed_against_the_old() -> None:
    # Given two tokens remembered against the old keys
    old = {"a": _grant(1), "b": _grant(2)}
    passed = PassedTokens()
    passed.remember(old, TOKEN, old["a"])
    passed.remember(old, TOKEN + "b", old["b"])
    # When one passes against the new keys
    new = {"a": _grant(1)}
    passed.remember(new, TOKEN, new["a"])
    # Then only that one is remembered, for the new keys only
    assert len(passed) == 1
    assert passed.get(new, TOKEN + "b") is None
    assert passed.get(old, TOKEN) is None


def test_remember__full__starts_again() -> None:
    # Given a memory holding as many tokens as it may
    grants = {"hash": _grant()}
    passed = PassedTokens()
    for index in range(passed_tokens.MAX_REMEMBERED):
        passed.remember(grants, f"{TOKEN}{index}", grants["hash"])
    assert len(passed) == passed_tokens.MAX_REMEMBERED
    # When one more passes
    passed.remember(grants, TOKEN, grants["hash"])
    # Then the memory started again with it
    assert len(passed) == 1
    assert passed.get(grants, TOKEN) is not None
