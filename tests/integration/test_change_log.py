"""The change log in PostgreSQL: every write path bumps the version exactly once per
transaction, logs the entities it changed (with their environment), and, once committed,
publishes a notice whose documents are what PostgreSQL holds; versions become visible
in commit order; a rolled back write leaves no trace; readers catch up from the log."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import redis

from functions.commands.bootstrap import provision_service_key
from functions.core.adapters import db
from functions.core.adapters.migrations import migrate
from functions.core.errors import Conflict
from functions.core.keys.signing import Signer
from functions.core.models.environments import CreateEnvironmentRequest
from functions.core.models.flags import CreateFlagRequest, UpdateFlagRequest
from functions.core.models.keys import CreateKeyRequest, RotateKeyRequest
from functions.core.models.targeting import (
    CreateRuleRequest,
    CreateSegmentRequest,
    SegmentBody,
    UpdateRuleRequest,
)
from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL
from functions.core.services.change_writes import ConfigWrites
from functions.core.services.config_files import ConfigFileService, parse_document
from functions.core.services.environments import EnvironmentService
from functions.core.services.flags import FlagService
from functions.core.services.keys import Actor, AuthService
from functions.core.services.promotion import PromotionService
from functions.core.services.segments import SegmentService
from functions.core.services.targeting import TargetingService
from functions.core.snapshot.notices import MAX_DOCUMENTED_ENTITIES, Notice, parse_notice
from functions.core.stores import config_changes, key_changes
from functions.core.stores import flags as flag_store
from functions.core.stores import rules as rule_store
from functions.core.stores import segments as segment_store
from functions.core.stores.config_changes import ChangeRef, SourceState

DatabaseFactory = Callable[[str], str]
Ref = tuple[str, str, str | None]
PERCENT = {"type": "PERCENTAGE", "value": 30}

GRANT_SECRET = secrets.token_hex(32)


class Listener:
    """A subscriber to the notices channel, as evaluation is; keeps one database's."""

    def __init__(self, redis_url: str) -> None:
        self._client = redis.Redis.from_url(redis_url)
        self._pubsub = self._client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
        self._pubsub.subscribe(SNAPSHOT_CHANGES_CHANNEL)
        message = self._pubsub.get_message(timeout=2.0)
        assert message is not None and message["type"] == "subscribe"

    def notices(self, epoch: str, *, wait: float = 0.3) -> list[Notice]:
        """Every notice of `epoch` received until `wait` seconds pass without one."""
        found: list[Notice] = []
        while True:
            message = self._pubsub.get_message(timeout=wait)
            if message is None:
                return found
            if message["type"] != "message":
                continue
            notice = parse_notice(message["data"], Signer(GRANT_SECRET))
            assert notice is not None, message["data"]
            if notice.epoch == epoch:
                found.append(notice)

    def close(self) -> None:
        self._pubsub.close()
        self._client.close()


@dataclass
class Config:
    url: str
    flags: FlagService
    targeting: TargetingService
    segments: SegmentService
    environments: EnvironmentService
    promotion: PromotionService
    files: ConfigFileService


@pytest.fixture
def listener(redis_url: str) -> Iterator[Listener]:
    subscribed = Listener(redis_url)
    yield subscribed
    subscribed.close()


@pytest.fixture
def config(fresh_database: DatabaseFactory, redis_url: str) -> Iterator[Config]:
    url = fresh_database("change_log")
    migrate(url, ["flags", "targeting"])
    given = {"database_url": url, "redis_url": redis_url}
    yield Config(
        url,
        FlagService(**given),
        TargetingService(**given),
        SegmentService(**given),
        EnvironmentService(**given, default_environment="production"),
        PromotionService(**given),
        ConfigFileService(**given),
    )
    db.close_all()


@pytest.fixture
def auth(auth_db: str, redis_url: str) -> Iterator[AuthService]:
    yield AuthService(
        database_url=auth_db,
        master_key=secrets.token_urlsafe(32),
        redis_url=redis_url,
        grant_secret=GRANT_SECRET,
    )
    db.close_all()


def _config_state(url: str) -> SourceState:
    with db.transaction(url) as conn:
        return config_changes.state(conn)


def _key_state(url: str) -> SourceState:
    with db.transaction(url) as conn:
        return key_changes.state(conn)


def _refs(notice: Notice) -> set[Ref]:
    return {(c.kind, c.key, c.environment) for c in notice.changes}


def _one_write(
    url: str, listener: Listener, action: Callable[[], object], *, keys: bool = False
) -> Notice:
    """Run `action`; check it made one version, and that its one notice says what the log
    says and carries the documents PostgreSQL now holds."""
    store = key_changes if keys else config_changes
    read_state = _key_state if keys else _config_state
    before = read_state(url)
    action()
    after = read_state(url)
    assert after == SourceState(before.epoch, before.version + 1)
    [notice] = listener.notices(before.epoch)
    assert (notice.source, notice.version, notice.complete) == (
        "keys" if keys else "config",
        after.version,
        True,
    )
    with db.transaction(url) as conn:
        logged = store.changes_since(conn, before.version)
        assert logged is not None
        documents = store.load_documents(conn, logged)
    assert _refs(notice) == {(r.kind, r.key, r.environment) for r in logged}
    sent = {(c.kind, c.key): c.document for c in notice.changes}
    assert sent == {key: json.loads(json.dumps(value)) for key, value in documents.items()}
    return notice


def _no_write(url: str, listener: Listener, action: Callable[[], object]) -> None:
    before = _config_state(url)
    action()
    assert _config_state(url) == before
    assert listener.notices(before.epoch) == []


def _document(notice: Notice, kind: str, key: str) -> dict[str, Any] | None:
    [document] = [c.document for c in notice.changes if (c.kind, c.key) == (kind, key)]
    return document


# -- flags ---------------------------------------------------------------------------------


def test_flag_writes__each__one_version_the_flag_logged_and_its_document_sent(
    config: Config, listener: Listener
) -> None:
    # Given a migrated configuration database, nothing written yet
    assert _config_state(config.url).version == 0

    # When a flag is created on in production
    created = _one_write(
        config.url,
        listener,
        lambda: config.flags.create_flag(
            CreateFlagRequest.model_validate({"name": "checkout", "is_enabled": True}),
            environment="production",
        ),
    )
    # Then the flag itself changed (every environment), with its whole document
    assert _refs(created) == {("flag", "checkout", None)}
    assert _document(created, "flag", "checkout") == {
        "name": "checkout",
        "type": "boolean",
        "variants": {"on": True, "off": False},
        "off_variant": "off",
        "default_variant": "on",
        "archived": False,
        "states": {"production": True},
        "rules": {},
    }

    # When its state changes in staging only
    staged = _one_write(
        config.url,
        listener,
        lambda: config.flags.update_flag(
            "checkout",
            UpdateFlagRequest.model_validate({"is_enabled": True}),
            environment="staging",
        ),
    )
    # Then the change names staging
    assert _refs(staged) == {("flag", "checkout", "staging")}
    assert _document(staged, "flag", "checkout")["states"] == {  # type: ignore[index]
        "production": True,
        "staging": True,
    }

    # When its definition changes (archived), then every environment is concerned
    archived = _one_write(
        config.url,
        listener,
        lambda: config.flags.update_flag(
            "checkout", UpdateFlagRequest.model_validate({"archived": True}), environment="staging"
        ),
    )
    assert _refs(archived) == {("flag", "checkout", None)}
    assert _document(archived, "flag", "checkout")["archived"] is True  # type: ignore[index]

    # When it is deleted, with its states and a rule, then one change: the flag, gone
    config.targeting.create_rule(
        CreateRuleRequest.model_validate({"flag_name": "checkout", "rules": PERCENT}),
        environment="staging",
    )
    listener.notices(created.epoch)
    deleted = _one_write(config.url, listener, lambda: config.flags.delete_flag("checkout"))
    assert _refs(deleted) == {("flag", "checkout", None)}
    assert _document(deleted, "flag", "checkout") is None


def test_flag_update__nothing_a_decision_depends_on__no_version_no_notice(
    config: Config, listener: Listener
) -> None:
    # Given a flag on in production
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "quiet", "is_enabled": True}),
        environment="production",
    )
    listener.notices(_config_state(config.url).epoch)
    # When only its description, tags and owner change, or its state is set to what it is
    # Then no version is made and nothing is published
    _no_write(
        config.url,
        listener,
        lambda: config.flags.update_flag(
            "quiet",
            UpdateFlagRequest.model_validate(
                {"description": "d", "tags": ["t"], "owner": "o", "is_enabled": True}
            ),
            environment="production",
        ),
    )


# -- rules, segments, environments ---------------------------------------------------------


def test_rule_writes__each__one_version_logged_for_the_flag_in_that_environment(
    config: Config, listener: Listener
) -> None:
    # Given a flag
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "banner"}), environment="production"
    )
    listener.notices(_config_state(config.url).epoch)

    # When a rule is created, updated and deleted in staging
    created = _one_write(
        config.url,
        listener,
        lambda: config.targeting.create_rule(
            CreateRuleRequest.model_validate({"flag_name": "banner", "rules": PERCENT}),
            environment="staging",
        ),
    )
    updated = _one_write(
        config.url,
        listener,
        lambda: config.targeting.update_rule(
            "banner", UpdateRuleRequest.model_validate({"is_enabled": False}), environment="staging"
        ),
    )
    deleted = _one_write(
        config.url,
        listener,
        lambda: config.targeting.delete_rule("banner", environment="staging"),
    )

    # Then each names the flag in staging, and its document carries the rule as it is
    for notice in (created, updated, deleted):
        assert _refs(notice) == {("flag", "banner", "staging")}
    rules = _document(created, "flag", "banner")["rules"]  # type: ignore[index]
    assert rules["staging"]["is_enabled"] is True
    assert _document(updated, "flag", "banner")["rules"]["staging"]["is_enabled"] is False  # type: ignore[index]
    assert _document(deleted, "flag", "banner")["rules"] == {}  # type: ignore[index]


def test_segment_writes__each__one_version_and_the_segment_document(
    config: Config, listener: Listener
) -> None:
    created = _one_write(
        config.url,
        listener,
        lambda: config.segments.create_segment(
            CreateSegmentRequest.model_validate({"key": "beta", "included": ["a"]})
        ),
    )
    updated = _one_write(
        config.url,
        listener,
        lambda: config.segments.update_segment(
            "beta", SegmentBody.model_validate({"included": ["a", "b"]})
        ),
    )
    deleted = _one_write(config.url, listener, lambda: config.segments.delete_segment("beta"))

    for notice in (created, updated, deleted):
        assert _refs(notice) == {("segment", "beta", None)}
    assert _document(updated, "segment", "beta")["included"] == ["a", "b"]  # type: ignore[index]
    assert _document(deleted, "segment", "beta") is None


def test_environment_writes__delete_cascades__one_change_not_one_per_flag(
    config: Config, listener: Listener
) -> None:
    # Given a new environment, where two flags are on and one has a rule
    created = _one_write(
        config.url,
        listener,
        lambda: config.environments.create_environment(
            CreateEnvironmentRequest.model_validate({"key": "qa", "name": "QA"})
        ),
    )
    assert _refs(created) == {("environment", "qa", None)}
    assert _document(created, "environment", "qa") == {"key": "qa", "name": "QA"}
    for name in ("one", "two"):
        config.flags.create_flag(
            CreateFlagRequest.model_validate({"name": name, "is_enabled": True}), environment="qa"
        )
    config.targeting.create_rule(
        CreateRuleRequest.model_validate({"flag_name": "one", "rules": PERCENT}), environment="qa"
    )
    listener.notices(created.epoch)
    renamed = _one_write(
        config.url,
        listener,
        lambda: config.environments.rename_environment("qa", name="Quality"),
    )
    assert _document(renamed, "environment", "qa") == {"key": "qa", "name": "Quality"}

    # When it is deleted (its states and rules go with it)
    deleted = _one_write(
        config.url,
        listener,
        lambda: config.environments.delete_environment("qa", bound_keys=lambda _: 0),
    )

    # Then the one change is the environment, gone; the flags no longer hold its state
    assert _refs(deleted) == {("environment", "qa", None)}
    assert _document(deleted, "environment", "qa") is None
    with db.transaction(config.url) as conn:
        flag = config_changes.load_documents(conn, [ChangeRef("flag", "one")])[("flag", "one")]
    assert flag is not None
    assert (flag["states"], flag["rules"]) == ({}, {})


# -- promotion and import ------------------------------------------------------------------


def test_promotion__applied__one_version_for_the_target_environment(
    config: Config, listener: Listener
) -> None:
    # Given a flag on with a rule in staging, off in production
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "promo"}), environment="production"
    )
    config.flags.update_flag(
        "promo", UpdateFlagRequest.model_validate({"is_enabled": True}), environment="staging"
    )
    config.targeting.create_rule(
        CreateRuleRequest.model_validate({"flag_name": "promo", "rules": PERCENT}),
        environment="staging",
    )
    listener.notices(_config_state(config.url).epoch)

    # When staging is promoted to production (a dry run first, which writes nothing)
    _no_write(
        config.url,
        listener,
        lambda: config.promotion.promote(
            "promo", source="staging", target="production", dry_run=True
        ),
    )
    promoted = _one_write(
        config.url,
        listener,
        lambda: config.promotion.promote(
            "promo", source="staging", target="production", dry_run=False
        ),
    )

    # Then state and rule changed in one version, named for production
    assert _refs(promoted) == {("flag", "promo", "production")}
    document = _document(promoted, "flag", "promo")
    assert document is not None
    assert document["states"]["production"] is True
    assert document["rules"]["production"] == document["rules"]["staging"]


def test_promotion_and_writes__nothing_different__no_version_rows_untouched(
    config: Config, listener: Listener, redis_url: str
) -> None:
    # Given production promoted from staging once, and a segment written
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "same", "is_enabled": True}),
        environment="staging",
    )
    config.targeting.create_rule(
        CreateRuleRequest.model_validate({"flag_name": "same", "rules": PERCENT}),
        environment="staging",
    )
    config.promotion.promote("same", source="staging", target="production", dry_run=False)
    writes = ConfigWrites(config.url, redis_url)
    with writes.transaction() as conn:
        segment_store.put_segment(conn, key="same-seg", document={"included": ["u1"]}, grammar=2)
    listener.notices(_config_state(config.url).epoch)

    # When the same promotion, the same states, rules and segment are written again
    def rewrite() -> None:
        config.promotion.promote("same", source="staging", target="production", dry_run=False)
        with writes.transaction() as conn:
            flag_store.set_states(conn, [("same", "production", True)])
            rule_store.put_rules(conn, [("same", "production", PERCENT, True, 2)])
            segment_store.put_segment(
                conn, key="same-seg", document={"included": ["u1"]}, grammar=2
            )

    # Then nothing is versioned or announced (the ETag changes only when something does),
    # and each row still says when it last changed (what the overview shows)
    before = _updated_at(config.url)
    _no_write(config.url, listener, rewrite)
    assert _updated_at(config.url) == before


def _updated_at(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [
            *conn.execute("SELECT environment, updated_at FROM flag_states ORDER BY 1").fetchall(),
            *conn.execute(
                "SELECT environment, updated_at FROM targeting_rules ORDER BY 1"
            ).fetchall(),
            *conn.execute("SELECT key, updated_at FROM segments ORDER BY 1").fetchall(),
        ]


def _import(flags: int, *, segment: bool = True) -> dict[str, Any]:
    return {
        "version": 1,
        "environments": [{"key": key} for key in ("development", "staging", "production")],
        "segments": [{"key": "beta", "included": ["u1"]}] if segment else [],
        "flags": [
            {
                "name": f"imported_{index:04d}",
                "environments": {"staging": {"enabled": True, "rule": {"rules": PERCENT}}},
            }
            for index in range(flags)
        ],
    }


def test_import__applied__one_version_every_entity_logged_and_documented(
    config: Config, listener: Listener
) -> None:
    # Given an import of three flags and a segment: a dry run writes nothing
    document = parse_document(_import(3))
    _no_write(
        config.url,
        listener,
        lambda: config.files.import_document(document, dry_run=True, bound_to=None),
    )

    # When it is applied
    imported = _one_write(
        config.url,
        listener,
        lambda: config.files.import_document(document, dry_run=False, bound_to=None),
    )

    # Then one version names every flag (created: every environment) and the segment
    assert _refs(imported) == {("segment", "beta", None)} | {
        ("flag", f"imported_{i:04d}", None) for i in range(3)
    }
    # And importing it again changes nothing
    _no_write(
        config.url,
        listener,
        lambda: config.files.import_document(document, dry_run=False, bound_to=None),
    )


def test_import__more_entities_than_a_notice_documents__incomplete_notice(
    config: Config, listener: Listener
) -> None:
    # Given an import of more flags than a notice carries documents for
    count = MAX_DOCUMENTED_ENTITIES + 1
    document = parse_document(_import(count, segment=False))
    before = _config_state(config.url)

    # When it is applied
    config.files.import_document(document, dry_run=False, bound_to=None)

    # Then one version, and its notice names every change without documents
    assert _config_state(config.url).version == before.version + 1
    [notice] = listener.notices(before.epoch)
    assert notice.complete is False
    assert len(notice.changes) == count
    assert all(change.document is None for change in notice.changes)


# -- transactions --------------------------------------------------------------------------


def test_rolled_back_write__no_version_no_log_no_notice(
    config: Config, listener: Listener, redis_url: str
) -> None:
    # Given a segment, and the version it made
    config.segments.create_segment(CreateSegmentRequest.model_validate({"key": "dup"}))
    before = _config_state(config.url)
    listener.notices(before.epoch)
    writes = ConfigWrites(config.url, redis_url)

    def half_done() -> None:
        with writes.transaction() as conn:
            segment_store.create_segment(conn, key="other", document={"key": "other"}, grammar=2)
            segment_store.create_segment(conn, key="dup", document={"key": "dup"}, grammar=2)

    # When a write fails half-way: a segment created, then a duplicate refused
    with pytest.raises(Conflict):
        half_done()

    # Then nothing of it remains: no version, no log row, no notice
    assert _config_state(config.url) == before
    with db.transaction(config.url) as conn:
        assert config_changes.changes_since(conn, before.version) == []
        assert segment_store.find_segment(conn, "other") is None
    assert listener.notices(before.epoch) == []


def test_savepoint_rolled_back__its_version_undone_the_next_write_takes_it(
    config: Config,
) -> None:
    before = _config_state(config.url)

    def refused(conn: db.Connection) -> None:
        with conn.transaction():
            conn.execute("INSERT INTO environments (key, name) VALUES ('gone', 'Gone')")
            raise RuntimeError

    # Given a transaction whose first write is in a savepoint that rolls back
    with db.transaction(config.url) as conn, conn.transaction():
        with pytest.raises(RuntimeError):
            refused(conn)
        assert config_changes.pending(conn) is None
        # When it writes again
        conn.execute("INSERT INTO environments (key, name) VALUES ('kept', 'Kept')")
        pending = config_changes.pending(conn)

    # Then that write has the next version, and only it is logged
    assert pending == (before.version + 1, [ChangeRef("environment", "kept")])
    assert _config_state(config.url).version == before.version + 1


def test_two_concurrent_writers__versions_follow_commit_order(config: Config) -> None:
    # Given a first writer that changed something and has not committed
    base = _config_state(config.url).version
    first = psycopg.connect(config.url)
    first.execute("INSERT INTO segments (key, document) VALUES ('a', '{\"key\": \"a\"}')")
    seen: dict[str, Any] = {}

    def second_writer() -> None:
        with psycopg.connect(config.url) as second:
            second.execute("INSERT INTO segments (key, document) VALUES ('b', '{\"key\": \"b\"}')")
            row = second.execute(
                "SELECT current_setting('togglemaster.config_version')::bigint"
            ).fetchone()
            seen["version"] = row[0] if row else None
            seen["at"] = time.monotonic()

    # When a second writer starts meanwhile
    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.3)
    # Then it waits for the first to commit
    assert thread.is_alive()
    committed_at = time.monotonic()
    first.commit()
    first.close()
    thread.join(timeout=5)

    # And takes the next version: a reader that sees the second's version saw the first's
    assert seen["version"] == base + 2
    assert seen["at"] >= committed_at
    with db.transaction(config.url) as conn:
        assert config_changes.changes_since(conn, base) == [
            ChangeRef("segment", "a"),
            ChangeRef("segment", "b"),
        ]
        assert config_changes.changes_since(conn, base + 1) == [ChangeRef("segment", "b")]


def test_renames__flag_and_environment__old_and_new_names_logged(config: Config) -> None:
    # Given a flag with a rule in staging
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "old"}), environment="production"
    )
    config.targeting.create_rule(
        CreateRuleRequest.model_validate({"flag_name": "old", "rules": PERCENT}),
        environment="staging",
    )
    # When the flag is renamed (the rule follows it), and then an environment's key
    with db.transaction(config.url) as conn, conn.transaction():
        conn.execute("UPDATE flags SET name = 'new' WHERE name = 'old'")
        flag_renamed = config_changes.pending(conn)
    with db.transaction(config.url) as conn, conn.transaction():
        conn.execute("UPDATE environments SET key = 'stage' WHERE key = 'staging'")
        environment_renamed = config_changes.pending(conn)

    # Then each names what was and what is; the rows that followed add nothing
    assert flag_renamed is not None and environment_renamed is not None
    assert set(flag_renamed[1]) == {ChangeRef("flag", "old"), ChangeRef("flag", "new")}
    assert set(environment_renamed[1]) == {
        ChangeRef("environment", "staging"),
        ChangeRef("environment", "stage"),
        ChangeRef("flag", "new", "stage"),
    }


# -- readers -------------------------------------------------------------------------------


def test_changes_since__pruned_or_ahead__none_otherwise_each_entity_once(config: Config) -> None:
    # Given five versions: a flag created, its state changed twice, a segment, an environment
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "f"}), environment="production"
    )
    config.flags.update_flag(
        "f", UpdateFlagRequest.model_validate({"is_enabled": True}), environment="staging"
    )
    config.flags.update_flag(
        "f", UpdateFlagRequest.model_validate({"is_enabled": False}), environment="staging"
    )
    config.segments.create_segment(CreateSegmentRequest.model_validate({"key": "s"}))
    config.environments.create_environment(CreateEnvironmentRequest.model_validate({"key": "qa"}))

    with db.transaction(config.url) as conn:
        # Then from the start: the flag once (created: every environment), then the rest
        assert config_changes.changes_since(conn, 0) == [
            ChangeRef("flag", "f"),
            ChangeRef("segment", "s"),
            ChangeRef("environment", "qa"),
        ]
        assert config_changes.changes_since(conn, 1) == [
            ChangeRef("flag", "f", "staging"),
            ChangeRef("segment", "s"),
            ChangeRef("environment", "qa"),
        ]
        assert config_changes.changes_since(conn, 5) == []
        # A version ahead of the database's (a restored backup) cannot be explained
        assert config_changes.changes_since(conn, 6) is None
        # When the log loses its first two versions
        conn.execute("DELETE FROM config_changes WHERE version <= 2")
        # Then it reaches back to version 2, not further
        assert config_changes.changes_since(conn, 1) is None
        assert config_changes.changes_since(conn, 2) == [
            ChangeRef("flag", "f", "staging"),
            ChangeRef("segment", "s"),
            ChangeRef("environment", "qa"),
        ]


def test_load_all__every_document_and_each_environments_last_change(config: Config) -> None:
    # Given flags, a rule, a segment and an extra environment
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "a", "is_enabled": True}),
        environment="production",
    )
    config.flags.create_flag(
        CreateFlagRequest.model_validate({"name": "b"}), environment="production"
    )
    config.segments.create_segment(
        CreateSegmentRequest.model_validate({"key": "s", "included": ["u"]})
    )
    config.environments.create_environment(CreateEnvironmentRequest.model_validate({"key": "qa"}))
    config.targeting.create_rule(
        CreateRuleRequest.model_validate({"flag_name": "b", "rules": PERCENT}),
        environment="staging",
    )  # version 5
    config.flags.update_flag(
        "a", UpdateFlagRequest.model_validate({"is_enabled": True}), environment="qa"
    )  # 6

    # When everything is loaded in one snapshot
    with db.snapshot_transaction(config.url) as conn:
        state, documents, versions = config_changes.load_all(conn)
        refs = [ChangeRef(kind, key) for kind, key in documents]
        one_by_one = config_changes.load_documents(conn, refs)

    # Then it is what the documents of every entity are, one by one
    assert state.version == 6
    assert documents == one_by_one
    assert set(documents) == {
        ("flag", "a"),
        ("flag", "b"),
        ("segment", "s"),
        *[("environment", e) for e in ("development", "staging", "production", "qa")],
    }
    assert documents[("flag", "b")]["rules"]["staging"]["is_enabled"] is True
    # And each environment's version is its last change: shared changes (flags created,
    # segments) reach all, a state or rule only its own
    assert versions == {"development": 3, "staging": 5, "production": 3, "qa": 6}


def test_snapshot_transaction__repeatable_read_and_read_only(config: Config) -> None:
    with db.snapshot_transaction(config.url) as conn:
        row = conn.execute(
            "SELECT current_setting('transaction_isolation') AS isolation,"
            " current_setting('transaction_read_only') AS read_only"
        ).fetchone()
    assert row == {"isolation": "repeatable read", "read_only": "on"}


# -- keys ----------------------------------------------------------------------------------


def test_key_writes__create_revoke_rotate__one_version_each_with_key_documents(
    auth: AuthService, auth_db: str, listener: Listener
) -> None:
    master = Actor.master()
    # When a key is created
    created_box: dict[str, Any] = {}

    def create() -> None:
        created_box["key"] = auth.create_key(
            CreateKeyRequest.model_validate(
                {"name": "app", "scopes": ["evaluate"], "environment": "staging"}
            ),
            actor=master,
        )

    created = _one_write(auth_db, listener, create, keys=True)
    key_id = created_box["key"].id
    # Then its document says what evaluation needs, and no more
    document = _document(created, "key", str(key_id))
    assert document is not None
    assert set(document) == {"id", "key_hash", "scopes", "environment", "expires_at", "active"}
    assert (document["id"], document["scopes"], document["environment"]) == (
        key_id,
        ["evaluate"],
        "staging",
    )
    assert (document["expires_at"], document["active"]) == (None, True)

    # When it is rotated with a grace period: the new key and the old one change together
    rotated_box: dict[str, Any] = {}

    def rotate() -> None:
        rotated_box["key"] = auth.rotate_key(
            key_id, RotateKeyRequest.model_validate({"grace_seconds": 60}), actor=master
        )

    rotated = _one_write(auth_db, listener, rotate, keys=True)
    new_id = rotated_box["key"].id
    assert _refs(rotated) == {("key", str(key_id), None), ("key", str(new_id), None)}
    old = _document(rotated, "key", str(key_id))
    assert old is not None and old["active"] is True
    assert datetime.fromisoformat(old["expires_at"]) > datetime.now(UTC)

    # When the new key is revoked: inactive; revoking it again changes nothing
    revoked = _one_write(
        auth_db, listener, lambda: auth.revoke_key(new_id, actor=master), keys=True
    )
    assert _document(revoked, "key", str(new_id))["active"] is False  # type: ignore[index]
    before = _key_state(auth_db)
    auth.revoke_key(new_id, actor=master)
    assert _key_state(auth_db) == before
    assert listener.notices(before.epoch) == []

    # And listing keys (which merges their last use) is not a change
    auth.list_keys()
    assert _key_state(auth_db) == before


def test_bootstrap__second_run__one_version_naming_the_new_and_the_retired_key(
    auth_db: str, redis_url: str, listener: Listener
) -> None:
    # Given a first service key
    provision_service_key(auth_db, redis_url=redis_url, grant_secret=GRANT_SECRET)
    listener.notices(_key_state(auth_db).epoch)

    # When bootstrap runs again
    notice = _one_write(
        auth_db,
        listener,
        lambda: provision_service_key(auth_db, redis_url=redis_url, grant_secret=GRANT_SECRET),
        keys=True,
    )

    # Then both keys are in its one version: the first retired after its grace period
    assert _refs(notice) == {("key", "1", None), ("key", "2", None)}
    retired = _document(notice, "key", "1")
    assert retired is not None and retired["expires_at"] is not None
    with db.snapshot_transaction(auth_db) as conn:
        state, documents, versions = key_changes.load_all(conn)
    assert state.version == 2
    assert set(documents) == {("key", "1"), ("key", "2")}
    assert versions == {}
    db.close_all()


def test_key_load_all__revoked_and_expired_keys_left_out(auth_db: str) -> None:
    # Given a usable key, a revoked one and an expired one
    with psycopg.connect(auth_db) as conn:
        for name in ("live", "revoked", "expired"):
            conn.execute(
                "INSERT INTO api_keys (name, key_hash) VALUES (%s, md5(%s) || md5(%s))",
                (name, name, name + "!"),
            )
        conn.execute("UPDATE api_keys SET is_active = FALSE, revoked_at = now() WHERE id = 2")
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = 3")
    # When every key is loaded
    # Then only the usable one is there; the log names all three
    with db.snapshot_transaction(auth_db) as conn:
        _, documents, _ = key_changes.load_all(conn)
        changed = key_changes.changes_since(conn, 0)
    assert [document["id"] for document in documents.values()] == [1]
    assert changed == [key_changes.ref(1), key_changes.ref(2), key_changes.ref(3)]
    db.close_all()
