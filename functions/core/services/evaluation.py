"""Deciding flags for a context from the snapshot this process holds: no network round
trip on a warm request, the key check included.

A decision never raises: a flag the snapshot has never seen is FLAG_NOT_FOUND (the
seed's `false`) and costs a dict miss, no fetch and no event; stored rules that no
longer compile are the off variant with reason ERROR and code PARSE_ERROR. Prerequisites
are decided from the same snapshot as the flag that requires them, for the same
context: one configuration version per answer.

`result`, the seed's boolean, is the value itself for a boolean flag; for a string,
number or JSON flag it says whether the flag is "on" for the user: a variant was
served and it is not the off variant (so DISABLED, ERROR and FLAG_NOT_FOUND are false).

Events: every single-flag decision of a known flag emits one. A bulk answer does not:
it is what a client caches for later use, not a use, and counting it would report
every flag as seen by every visitor of a page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from functions.core import engine
from functions.core.errors import EnvironmentNotFound, ServiceUnavailable
from functions.core.keys.access import Caller, refused, resolve_environment
from functions.core.keys.material import hash_key, looks_like_key
from functions.core.keys.passed_tokens import PassedTokens
from functions.core.keys.usage import KeyUsage
from functions.core.mappers.evaluation import CompiledFlag
from functions.core.models.keys import Refusal
from functions.core.snapshot.keeper import Freshness, SnapshotKeeper
from functions.core.snapshot.state import Snapshot

if TYPE_CHECKING:
    from functions.core.events.publisher import EventPublisher

log = logging.getLogger(__name__)

FIRST_LOAD_WAIT_SECONDS = 5.0
"""How long a request made during a cold start waits for the first snapshot."""


class Decision(NamedTuple):
    """One flag decided (a tuple: a request builds one per flag it decides)."""

    flag_name: str
    resolution: engine.Resolution
    definition: engine.FlagDefinition | None
    has_rules: bool
    """An enabled rule document applies in this environment (OFREP: not STATIC)."""
    result: bool
    """The seed's boolean (see the module's doc)."""


class EvaluationService:
    def __init__(
        self,
        *,
        keeper: SnapshotKeeper,
        publisher: EventPublisher,
        default_environment: str,
        usage: KeyUsage | None = None,
    ) -> None:
        self._keeper = keeper
        self._publisher = publisher
        self._default_environment = default_environment
        self._usage = usage
        self._invalid_logged: set[tuple[str, str, int]] = set()
        self._passed = PassedTokens()

    @property
    def keeper(self) -> SnapshotKeeper:
        return self._keeper

    def snapshot(self) -> Snapshot:
        """The snapshot to decide with; waits for the first load during a cold start."""
        if not self._keeper.loaded and not self._keeper.wait_loaded(FIRST_LOAD_WAIT_SECONDS):
            raise ServiceUnavailable(
                "no configuration loaded yet", reason=self._keeper.problem() or "starting"
            )
        return self._keeper.current

    def freshness(self) -> Freshness:
        return self._keeper.freshness()

    def caller(self, snapshot: Snapshot, token: str | None, scope: str = "evaluate") -> Caller:
        """The caller behind the key, from the snapshot: a random or forged key is
        refused without asking anyone. A token that passed against these same keys is
        not hashed again (`keys.passed_tokens`)."""
        if not token:
            raise refused(Refusal.missing())
        now = time.time()
        grants = snapshot.grants
        passed = self._passed.get(grants, token)
        if passed is not None and not passed[0].expired(now):
            grant, caller = passed
        else:
            found = snapshot.grant(hash_key(token), now) if looks_like_key(token) else None
            if found is None:
                raise refused(_refusal(snapshot, token))
            grant, caller = found, self._passed.remember(grants, token, found)
        if self._usage is not None:
            self._usage.note(grant.key_id, now)
        caller.require(scope)
        return caller

    def environment(self, snapshot: Snapshot, caller: Caller, requested: str | None) -> str:
        environment = resolve_environment(caller, requested, default=self._default_environment)
        if environment not in snapshot.environments:
            raise EnvironmentNotFound(
                f"environment '{environment}' does not exist", environment=environment
            )
        return environment

    def decide(
        self,
        snapshot: Snapshot,
        *,
        environment: str,
        flag_name: str,
        user_id: str,
        context: Mapping[str, object],
        emit: bool = True,
    ) -> Decision:
        config = snapshot.flag(environment, flag_name)
        decision = self._decide(snapshot, config, environment, flag_name, context)
        if emit and config.definition is not None:
            resolution = decision.resolution
            self._publisher.publish_evaluation(
                user_id,
                flag_name,
                decision.result,
                environment,
                resolution.variant,
                resolution.reason,
            )
        return decision

    def decide_all(
        self,
        snapshot: Snapshot,
        *,
        environment: str,
        context: Mapping[str, object],
        flag_names: Iterable[str] | None = None,
    ) -> list[Decision]:
        """Every flag of the environment (archived ones are DISABLED), or those named."""
        names = snapshot.flag_names() if flag_names is None else list(dict.fromkeys(flag_names))
        return [
            self._decide(snapshot, snapshot.flag(environment, name), environment, name, context)
            for name in names
        ]

    def _decide(
        self,
        snapshot: Snapshot,
        config: CompiledFlag,
        environment: str,
        flag_name: str,
        context: Mapping[str, object],
    ) -> Decision:
        if config.invalid_rules is not None and config.definition is not None:
            self._log_invalid(snapshot, environment, flag_name, config.invalid_rules)
            off = config.definition.off_variant
            failure = engine.Resolution(
                value=config.definition.variants[off],
                variant=off,
                reason=engine.Reason.ERROR,
                error_code="PARSE_ERROR",
                error_message=config.invalid_rules,
            )
            return Decision(
                flag_name, failure, config.definition, True, seed_result(failure, config.definition)
            )
        ruleset = config.ruleset
        resolution = engine.evaluate(
            config.definition,
            config.enabled,
            ruleset,
            context,
            config.segments,
            lookup=partial(snapshot.flag, environment)
            if ruleset is not None and ruleset.prerequisites
            else None,
        )
        definition = config.definition
        return Decision(
            flag_name,
            resolution,
            definition,
            ruleset is not None,
            seed_result(resolution, definition),
        )

    def _log_invalid(self, snapshot: Snapshot, environment: str, name: str, problem: str) -> None:
        """Once per flag, environment and configuration version, not once per request."""
        marker = (environment, name, snapshot.config.version)
        if marker not in self._invalid_logged:
            self._invalid_logged.add(marker)
            log.error(
                "stored rules are invalid",
                extra={"flag_name": name, "environment": environment, "problem": problem},
            )


def _refusal(snapshot: Snapshot, token: str) -> Refusal:
    """Why the snapshot refuses `token`, as far as it can tell: not a key at all (the
    master key, most often), a key it holds that has expired, or one it does not hold
    (unknown, revoked or rotated out: only auth's table says which). The failure path
    only: a good key never comes here."""
    if not looks_like_key(token):
        return Refusal.not_a_key()
    held = snapshot.grants.get(hash_key(token))
    if held is not None and held.expires_at is not None:
        return Refusal.expired(held.expires_at)
    return Refusal.not_held()


def seed_result(resolution: engine.Resolution, definition: engine.FlagDefinition | None) -> bool:
    """The seed's `result`: see the module's docstring."""
    if definition is None or definition.kind is engine.FlagKind.BOOLEAN:
        return resolution.value is True
    return resolution.variant is not None and resolution.variant != definition.off_variant
