"""Export, import planning and promotion read whole environments at once: the number of
SQL statements they send does not grow with the number of flags (10 000 flags must not
mean tens of thousands of round trips)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from functions.core.adapters import db
from functions.core.adapters.migrations import migrate
from functions.core.services.config_files import ConfigFileService, parse_document
from functions.core.services.promotion import PromotionService

DatabaseFactory = Callable[[str], str]
ENVIRONMENTS = ("development", "staging", "production")


def _document(flags: int, *, flip: bool = False) -> dict[str, Any]:
    """`flags` flags in three environments, some on, some with a percentage or segment
    rule; `flip` turns every state the other way (a plan that changes everything)."""

    def state(index: int, environment: int) -> dict[str, Any]:
        rule: dict[str, Any] | None = None
        if (index + environment) % 3 == 0:
            rule = {"enabled": True, "rules": {"type": "PERCENTAGE", "value": index % 100}}
        elif (index + environment) % 5 == 0:
            rule = {
                "enabled": index % 2 == 0,
                "rules": {
                    "rules": [{"type": "SEGMENT", "segments": ["beta"], "serve": {"variant": "on"}}]
                },
            }
        return {"enabled": ((index + environment) % 2 == 0) != flip, "rule": rule}

    return {
        "version": 1,
        "environments": [{"key": key} for key in ENVIRONMENTS],
        "segments": [{"key": "beta", "included": ["u1", "u2"]}],
        "flags": [
            {
                "name": f"flag_{index:05d}",
                "environments": {key: state(index, n) for n, key in enumerate(ENVIRONMENTS)},
            }
            for index in range(flags)
        ],
    }


@pytest.fixture
def loaded(
    fresh_database: DatabaseFactory, redis_url: str
) -> Iterator[Callable[[int], tuple[ConfigFileService, PromotionService]]]:
    """`loaded(n)`: services over a new database holding `_document(n)`."""

    def load(flags: int) -> tuple[ConfigFileService, PromotionService]:
        url = fresh_database("queries")
        migrate(url, ["flags", "targeting"])
        config = ConfigFileService(database_url=url, redis_url=redis_url)
        config.import_document(parse_document(_document(flags)), dry_run=False, bound_to=None)
        return config, PromotionService(database_url=url, redis_url=redis_url)

    yield load
    db.close_all()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], object]], int]:
    """`statements(action)`: how many SQL statements `action` sent, counted where every
    store sends them (psycopg's cursor); a pipelined `executemany` counts once per row."""

    def count(action: Callable[[], object]) -> int:
        sent = 0
        execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

        def counted_execute(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
            nonlocal sent
            sent += 1
            return execute(self, *args, **kwargs)

        def counted_executemany(
            self: psycopg.Cursor[Any], query: Any, rows: Any, **kwargs: Any
        ) -> Any:
            nonlocal sent
            rows = list(rows)
            sent += len(rows)
            return executemany(self, query, rows, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(psycopg.Cursor, "execute", counted_execute)
            patch.setattr(psycopg.Cursor, "executemany", counted_executemany)
            action()
        return sent

    return count


def _costs(
    config: ConfigFileService,
    promotion: PromotionService,
    flags: int,
    statements: Callable[[Callable[[], object]], int],
) -> dict[str, int]:
    same, flipped = parse_document(_document(flags)), parse_document(_document(flags, flip=True))
    return {
        "export": statements(lambda: config.export(environment=None)),
        "export one environment": statements(lambda: config.export(environment="staging")),
        "plan, nothing changes": statements(
            lambda: config.import_document(same, dry_run=True, bound_to=None)
        ),
        "plan, every state changes": statements(
            lambda: config.import_document(flipped, dry_run=True, bound_to=None)
        ),
        "promotion": statements(
            lambda: promotion.promote(
                "flag_00001", source="staging", target="production", dry_run=True
            )
        ),
    }


def test_export_plan_promote__ten_times_more_flags__same_number_of_statements(
    loaded: Callable[[int], tuple[ConfigFileService, PromotionService]],
    statements: Callable[[Callable[[], object]], int],
) -> None:
    # Given two databases in three environments, one with ten times the flags of the other
    few, many = 6, 60
    small, large = loaded(few), loaded(many)

    # When export, import dry runs and a promotion run on each, counting statements
    on_small = _costs(*small, few, statements)
    on_large = _costs(*large, many, statements)

    # Then each sends the same few statements, whatever the number of flags
    assert on_large == on_small
    assert all(0 < sent <= 20 for sent in on_small.values()), on_small
