"""The overview: every flag with its state, a summary of its rules and its last change in
each environment, a page at a time (what the web console shows).

A page is read in one read-only REPEATABLE READ transaction, so its flags, states, rules
and configuration version belong together even while others write. Pages follow each
other by flag name (`after`: the last name of the previous page), which stays stable
when flags are created or deleted between two pages.

The last change of a flag in an environment is the latest write to its state or its rules
there, or else its creation; `updated_at`, the flag's own, is the last change of anything
about it, anywhere (the seed's column). The tables do not record who made a change, so
the overview does not say; a rule document deleted leaves no trace here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.adapters.db import snapshot_transaction
from functions.core.mappers.rule_summaries import summarise
from functions.core.models.overview import FlagView
from functions.core.stores import environments as environment_store
from functions.core.stores import overview as overview_store
from functions.core.stores.overview import FlagRows


@dataclass(frozen=True, slots=True)
class OverviewPage:
    environments: list[str]
    flags: list[FlagView]
    config_version: int
    last_name: str | None
    """The last flag's name when more flags follow: the next page's `after`; else None."""


class OverviewService:
    def __init__(self, *, database_url: str) -> None:
        self._database_url = database_url

    def page(
        self,
        *,
        environment: str | None,
        after: str | None,
        limit: int,
        tags: Sequence[str] = (),
        include_archived: bool = False,
    ) -> OverviewPage:
        """`environment`: only that one (404 if it does not exist); None: all of them."""
        with snapshot_transaction(self._database_url) as conn:
            if environment is not None:
                environment_store.get_environment(conn, environment)
                keys = [environment]
            else:
                keys = environment_store.environment_keys(conn)
            rows = overview_store.flag_page(
                conn,
                after=after,
                limit=limit + 1,
                tags=tags,
                include_archived=include_archived,
                environments=keys,
            )
            version = overview_store.config_version(conn)
        more = len(rows) > limit
        shown = rows[:limit]
        return OverviewPage(
            environments=keys,
            flags=[flag_view(rows=flag, environments=keys) for flag in shown],
            config_version=version,
            last_name=str(shown[-1].flag["name"]) if more else None,
        )


def flag_view(*, rows: FlagRows, environments: Sequence[str]) -> FlagView:
    flag = rows.flag
    return FlagView.model_validate(
        {
            "name": flag["name"],
            "description": flag["description"],
            "type": flag["type"],
            "default_variant": flag["default_variant"],
            "off_variant": flag["off_variant"],
            "tags": sorted(flag["tags"]),
            "owner": flag["owner"],
            "archived": flag["archived"],
            "created_at": flag["created_at"],
            "updated_at": flag["updated_at"],
            "environments": {
                key: _environment_view(flag, rows.states.get(key), rows.rules.get(key))
                for key in environments
            },
        }
    )


def _environment_view(
    flag: dict[str, Any], state: dict[str, Any] | None, rule: dict[str, Any] | None
) -> dict[str, Any]:
    summary = None if rule is None else summarise(rules=rule["rules"], enabled=rule["is_enabled"])
    at, what = _latest(
        (flag["created_at"], "created"),
        (None if state is None else state["updated_at"], "state"),
        (None if rule is None else rule["updated_at"], "rules"),
    )
    return {
        "enabled": bool(state is not None and state["is_enabled"]),
        "rollout": None if summary is None or not summary.enabled else summary.rollout,
        "rules": None
        if summary is None
        else {
            "enabled": summary.enabled,
            "count": summary.count,
            "kinds": summary.kinds,
            "summary": summary.summary,
        },
        "last_change": {"at": at, "what": what},
    }


def _latest(*moments: tuple[datetime | None, str]) -> tuple[datetime, str]:
    """The latest `(when, what)`, the first of equals (a flag's creation writes its state
    in the same transaction: it is "created"); the creation's is always set."""
    return max(((at, what) for at, what in moments if at is not None), key=lambda m: m[0])
