"""Promotion: make one environment decide a flag like another (state and rule), in one
transaction. The rule is copied with its grammar: promotion copies what it means, not
only its text."""

from __future__ import annotations

from functions.core.mappers.definitions import check_rule_limits
from functions.core.models.environments import Promotion
from functions.core.services import flag_states, prerequisites
from functions.core.services.change_writes import ConfigWrites
from functions.core.stores import environments as environment_store
from functions.core.stores import flags as flag_store


class PromotionService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._writes = ConfigWrites(database_url, redis_url)

    def promote(self, name: str, *, source: str, target: str, dry_run: bool) -> Promotion:
        """Make `target` decide like `source`: state and rule, in one transaction."""
        with self._writes.transaction() as conn:
            for environment in (source, target):
                environment_store.get_environment(conn, environment)
            flag_store.lock_flag(conn, name)
            wanted = flag_states.read(conn, name, environment=source)
            changes = flag_states.differences(
                flag_states.read(conn, name, environment=target), wanted
            )
            if "rule" in changes and wanted.rule is not None:
                # written before the caps, the source's rule may exceed one: not copied on
                check_rule_limits(wanted.rule["rules"], path=f"$.{source}")
                # the target's other flags may require this one: no cycle there either
                prerequisites.check_rule(
                    conn, name, target, wanted.rule["rules"], path=f"$.{source}.rules"
                )
            if changes and not dry_run:
                flag_states.write(conn, [flag_states.StateWrite(name, target, wanted)])
        applied = bool(changes) and not dry_run
        return Promotion.model_validate(
            {
                "flag_name": name,
                "from": source,
                "to": target,
                "dry_run": dry_run,
                "applied": applied,
                "changes": changes,
            }
        )
