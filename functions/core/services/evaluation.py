"""Deciding a flag for a user: the evaluation function's logic.

It never raises for a decision: an unreachable configuration with nothing cached
yields `false` with reason ERROR (logged), as the seed's contract wants `false` for
anything it cannot decide.

`result`, the seed's boolean, is the value itself for a boolean flag; for a string,
number or JSON flag it says whether the flag is "on" for the user: a variant was
served and it is not the off variant (so DISABLED, ERROR and FLAG_NOT_FOUND are false).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from functions.core import engine
from functions.core.errors import ServiceUnavailable
from functions.core.events.publisher import EventPublisher
from functions.core.events.schema import new_event
from functions.core.models.evaluation import EvaluationResult
from functions.core.names import MAX_FLAG_NAME
from functions.core.snapshot.reader import FlagReader

log = logging.getLogger(__name__)


class EvaluationService:
    def __init__(self, *, reader: FlagReader, publisher: EventPublisher) -> None:
        self._reader = reader
        self._publisher = publisher

    def evaluate(
        self,
        *,
        flag_name: str,
        user_id: str,
        environment: str,
        attributes: Mapping[str, object] | None = None,
    ) -> EvaluationResult:
        context = {**(attributes or {}), "user_id": user_id}
        resolution, definition = self._resolve(flag_name, environment, context)
        result = seed_result(resolution, definition)
        self._publisher.publish(
            new_event(
                user_id=user_id,
                flag_name=flag_name,
                result=result,
                environment=environment,
                variant=resolution.variant,
                reason=str(resolution.reason),
            )
        )
        return EvaluationResult(
            flag_name=flag_name,
            user_id=user_id,
            result=result,
            value=resolution.value,
            variant=resolution.variant,
            reason=str(resolution.reason),
            environment=environment,
        )

    def _resolve(
        self, flag_name: str, environment: str, context: Mapping[str, object]
    ) -> tuple[engine.Resolution, engine.FlagDefinition | None]:
        if len(flag_name) > MAX_FLAG_NAME or not flag_name.isprintable():
            return engine.evaluate(None, False, None, context), None
        try:
            config = self._reader.get(flag_name, environment)
        except ServiceUnavailable as exc:
            log.error(
                "no configuration for the flag",
                extra={"flag_name": flag_name, "error": exc.message},
            )
            failure = engine.Resolution(
                value=False,
                variant=None,
                reason=engine.Reason.ERROR,
                error_code="GENERAL",
                error_message=exc.message,
            )
            return failure, None
        if config.invalid_rules is not None and config.definition is not None:
            log.error(
                "stored rules are invalid",
                extra={"flag_name": flag_name, "problem": config.invalid_rules},
            )
            off = config.definition.variants[config.definition.off_variant]
            failure = engine.Resolution(
                value=off,
                variant=config.definition.off_variant,
                reason=engine.Reason.ERROR,
                error_code="PARSE_ERROR",
                error_message=config.invalid_rules,
            )
            return failure, config.definition
        resolution = engine.evaluate(
            config.definition, config.enabled, config.ruleset, context, config.segments
        )
        return resolution, config.definition


def seed_result(resolution: engine.Resolution, definition: engine.FlagDefinition | None) -> bool:
    """The seed's `result`: see the module's docstring."""
    if definition is None or definition.kind is engine.FlagKind.BOOLEAN:
        return resolution.value is True
    return resolution.variant is not None and resolution.variant != definition.off_variant
