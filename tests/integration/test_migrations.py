"""The migrations are the only schema, and applying them is safe to repeat
(seed report §1.1–§1.3)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from functions.commands.migrate import main as migrate_main
from functions.core.adapters.migrations import MigrationError, migrate, sql_dir

DatabaseFactory = Callable[[str], str]


def _columns(url: str, table: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (table,),
        ).fetchall()
    return {name: kind for name, kind in rows}


def test_migrate__empty_databases__creates_the_seed_schema(fresh_database: DatabaseFactory) -> None:
    # Given two empty databases
    auth_url, config_url = fresh_database("auth"), fresh_database("config")
    # When the migration command runs
    assert migrate_main(["--auth-url", auth_url, "--config-url", config_url]) == 0
    # Then the tables carry the seed's contract columns and types
    keys = _columns(auth_url, "api_keys")
    assert keys["key_hash"] in ("character", "text", "character varying")
    assert keys["is_active"] == "boolean"
    assert {"id", "name", "created_at"} <= set(keys)
    assert {"id", "name", "description", "created_at", "updated_at"} <= set(
        _columns(config_url, "flags")
    )
    assert _columns(config_url, "flag_states")["is_enabled"] == "boolean"
    assert _columns(config_url, "targeting_rules")["rules"] == "jsonb"


def test_migrate__run_twice__second_run_applies_nothing(fresh_database: DatabaseFactory) -> None:
    # Given a migrated configuration database
    url = fresh_database("config")
    first = migrate(url, ["flags", "targeting"])
    # When the migrations run again
    second = migrate(url, ["flags", "targeting"])
    # Then nothing more is applied
    assert first
    assert second == []


def test_migrate__applied_file_edited__refused(
    fresh_database: DatabaseFactory, tmp_path: Path
) -> None:
    # Given a database migrated from a copy of sql/, whose first file is then edited
    root = tmp_path / "sql"
    shutil.copytree(sql_dir(), root)
    url = fresh_database("auth")
    migrate(url, ["auth"], root)
    first = sorted((root / "auth").glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    # When the migrations run again
    # Then the edit is refused rather than silently ignored
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(url, ["auth"], root)


def test_migrate__failing_file__nothing_half_applied(
    fresh_database: DatabaseFactory, tmp_path: Path
) -> None:
    # Given a migration set whose second file fails half-way
    root = tmp_path / "sql"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "001_one.sql").write_text("CREATE TABLE one (id int);")
    (root / "demo" / "002_two.sql").write_text("CREATE TABLE two (id int); SELECT 1/0;")
    url = fresh_database("demo")
    # When it is applied
    with pytest.raises(MigrationError, match="002_two"):
        migrate(url, ["demo"], root)
    # Then the first file is recorded and the second left no trace
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('two')").fetchone() == (None,)
        assert conn.execute(
            "SELECT version FROM schema_migrations WHERE component = 'demo'"
        ).fetchall() == [(1,)]


def test_migrate_command__no_database_url__exit_2_naming_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no database variable at all
    for name in ("DATABASE_URL", "AUTH_DATABASE_URL", "CONFIG_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # When the command runs
    code = migrate_main([])
    # Then it exits 2 and names what to set
    assert code == 2
    assert "AUTH_DATABASE_URL" in capsys.readouterr().err
