"""Settings are read once and every error names the variable to fix."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from functions.core.errors import ConfigError
from functions.core.settings import AnalyticsSettings, AuthSettings, EvaluationSettings

EVALUATION_ENV = {
    "REDIS_URL": "redis://127.0.0.1:6390/0",
    "CONFIG_DATABASE_URL": "postgresql://u@127.0.0.1:5433/flags_db",
    "AUTH_DATABASE_URL": "postgresql://u@127.0.0.1:5433/auth_db",
    "AWS_SQS_URL": "http://127.0.0.1:4566/000000000000/events",
    "GRANT_SECRET": secrets.token_hex(32),
    "EVENTS_SIGNING_SECRET": secrets.token_hex(32),
}


def test_auth_settings__missing_variables__error_names_each() -> None:
    # Given an environment without the auth function's variables
    # When the settings are read
    with pytest.raises(ConfigError) as caught:
        AuthSettings.from_env({})
    # Then the error names both variables
    assert "DATABASE_URL is required" in str(caught.value)
    assert "MASTER_KEY is required" in str(caught.value)


def test_auth_settings__wrong_scheme__error_names_variable_not_value() -> None:
    # Given a DATABASE_URL that is not PostgreSQL and a master key
    master_key = secrets.token_urlsafe(32)
    env = {"DATABASE_URL": "mysql://db/x", "MASTER_KEY": master_key}
    # When the settings are read
    with pytest.raises(ConfigError) as caught:
        AuthSettings.from_env(env)
    # Then the variable is named, and no secret is echoed
    assert "DATABASE_URL" in str(caught.value)
    assert master_key not in str(caught.value)


def test_evaluation_settings__valid_environment__urls_normalised() -> None:
    # Given a complete environment
    # When the settings are read
    settings = EvaluationSettings.from_env(EVALUATION_ENV)
    # Then defaults apply
    assert settings.config_database_url.endswith("/flags_db")
    assert settings.aws_region == "us-east-1"
    assert settings.event_flush_seconds == 1.0
    assert settings.config_check_seconds == 0.5


def test_evaluation_settings__database_url_stands_for_the_configuration_database() -> None:
    # Given the old single DATABASE_URL instead of CONFIG_DATABASE_URL
    env = {k: v for k, v in EVALUATION_ENV.items() if k != "CONFIG_DATABASE_URL"}
    env["DATABASE_URL"] = "postgresql://u@h/flags_db"
    # When the settings are read
    settings = EvaluationSettings.from_env(env)
    # Then it is the configuration database
    assert settings.config_database_url == "postgresql://u@h/flags_db"


def test_evaluation_settings__out_of_range_number__error_names_variable() -> None:
    # Given a flush interval outside its bounds
    env = {**EVALUATION_ENV, "EVENT_FLUSH_SECONDS": "60"}
    # When the settings are read
    with pytest.raises(ConfigError) as caught:
        EvaluationSettings.from_env(env)
    # Then the variable is named
    assert "EVENT_FLUSH_SECONDS" in str(caught.value)


ANALYTICS_NEEDS = {
    "REDIS_URL": "redis://127.0.0.1:6379",
    "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/auth",
    "CONFIG_DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/flags",
    "GRANT_SECRET": "g" + "0123456789abcdefghijklmnopqrstuv",
    "EVENTS_SIGNING_SECRET": "e" + "0123456789abcdefghijklmnopqrstuv",
}


def test_analytics_settings__no_events_signing_secret__refuses_to_start_naming_it() -> None:
    # Given everything analytics needs but the secret evaluation signs its packs with
    env = {k: v for k, v in ANALYTICS_NEEDS.items() if k != "EVENTS_SIGNING_SECRET"}
    # When / Then it refuses to start, naming the variable
    with pytest.raises(ConfigError, match="EVENTS_SIGNING_SECRET is required"):
        AnalyticsSettings.from_env(env)
    with pytest.raises(ConfigError, match="EVENTS_SIGNING_SECRET must be a random secret"):
        AnalyticsSettings.from_env({**env, "EVENTS_SIGNING_SECRET": "short"})


@pytest.mark.parametrize(
    ("raw_events", "fraction"), [(None, 1.0), ("all", 1.0), ("off", 0.0), ("0.25", 0.25)]
)
def test_analytics_settings__raw_events__fraction_kept(
    raw_events: str | None, fraction: float
) -> None:
    # Given / When
    env = {**ANALYTICS_NEEDS, **({} if raw_events is None else {"RAW_EVENTS": raw_events})}
    settings = AnalyticsSettings.from_env(env)
    # Then
    assert settings.raw_fraction == fraction
    assert settings.raw_events_retention_days == 30
    assert settings.aws_dynamodb_counts_table == "ToggleMasterAnalyticsCounts"


@pytest.mark.parametrize("raw_events", ["some", "0", "1", "1.5", "-0.1", "nan"])
def test_analytics_settings__raw_events_not_all_off_or_fraction__refused(raw_events: str) -> None:
    # Given / When / Then
    with pytest.raises(ConfigError, match="RAW_EVENTS must be all, off, or a fraction"):
        AnalyticsSettings.from_env({**ANALYTICS_NEEDS, "RAW_EVENTS": raw_events})


@pytest.mark.parametrize("old_name", ["AWS_SQS_ENDPOINT_URL", "AWS_DYNAMODB_ENDPOINT_URL"])
def test_aws_settings__old_endpoint_variable__accepted(old_name: str) -> None:
    # Given the old deployment's endpoint variable (and what analytics needs besides)
    env = {old_name: "http://127.0.0.1:4566", **ANALYTICS_NEEDS}
    # When the analytics settings are read
    settings = AnalyticsSettings.from_env(env)
    # Then it becomes the AWS endpoint, and the table keeps the seed's name
    assert settings.aws_endpoint_url == "http://127.0.0.1:4566"
    assert settings.aws_dynamodb_table == "ToggleMasterAnalytics"


@pytest.mark.parametrize(
    ("master_key", "problem"),
    [
        ("change-this-master-key", "published example"),
        ("admin-secreto-123", "published example"),
        ("Change-This-Master-Key ", "published example"),
        ("s3cr3t-but-short", "at least 32"),
        ("ab" * 20, "at least 10"),
        ("m" * 40, "at least 10"),
    ],
)
def test_auth_settings__weak_or_published_master_key__refused_naming_it_and_the_fix(
    master_key: str, problem: str
) -> None:
    # Given a master key compose once shipped, the seed printed, or one too weak
    env = {"DATABASE_URL": "postgresql://db/auth", "MASTER_KEY": master_key}
    # When the settings are read
    with pytest.raises(ConfigError) as caught:
        AuthSettings.from_env(env)
    # Then the error names MASTER_KEY, says what is wrong and how to make one, never the key
    message = str(caught.value)
    assert "MASTER_KEY" in message
    assert problem in message
    assert "secrets.token_urlsafe(32)" in message
    assert master_key.strip() not in message


@pytest.mark.parametrize("made_with", [secrets.token_urlsafe, secrets.token_hex])
def test_auth_settings__generated_master_key__accepted(made_with: Callable[[int], str]) -> None:
    # Given a key made as the error says (or as hex)
    env = {"DATABASE_URL": "postgresql://db/auth", "MASTER_KEY": made_with(32)}
    # When the settings are read
    try:
        AuthSettings.from_env(env)
        problems = ""
    except ConfigError as refused:  # another variable may be missing: not this one
        problems = str(refused)
    # Then the master key is not what is refused
    assert "MASTER_KEY" not in problems


def test_compose__master_key__never_a_published_default() -> None:
    # Given the compose file
    compose = (Path(__file__).parents[3] / "docker-compose.yml").read_text()
    # When / Then: no default that auth would take: a key is made once per installation
    # (or taken from the environment), 32 random bytes
    assert "change-this-master-key" not in compose and "admin-secreto-123" not in compose
    assert "os.environ.get(name) or secrets.token_urlsafe(32)" in compose


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(None, id="missing"),
        pytest.param("short-secret", id="short"),
        pytest.param("a" * 40, id="not random"),
    ],
)
def test_grant_secret__missing_or_weak__error_names_variable_not_value(secret: str | None) -> None:
    # Given an evaluation environment with no GRANT_SECRET, or a weak one
    env = {k: v for k, v in EVALUATION_ENV.items() if k != "GRANT_SECRET"}
    if secret is not None:
        env["GRANT_SECRET"] = secret
    # When the settings are read
    with pytest.raises(ConfigError) as caught:
        EvaluationSettings.from_env(env)
    # Then the error names the variable, never its value
    assert "GRANT_SECRET" in str(caught.value)
    assert secret is None or secret not in str(caught.value)


def test_redis_password__given_apart__put_into_the_url() -> None:
    # Given REDIS_PASSWORD and a REDIS_URL without a password
    env = {**EVALUATION_ENV, "REDIS_URL": "rediss://cache:6380/0", "REDIS_PASSWORD": "p@ss:w/rd"}
    # When the settings are read
    settings = EvaluationSettings.from_env(env)
    # Then the one URL carries it, quoted, and TLS is kept
    assert settings.redis_url == "rediss://:p%40ss%3Aw%2Frd@cache:6380/0"


def test_redis_password__url_has_its_own__url_kept() -> None:
    # Given a REDIS_URL with a password, and REDIS_PASSWORD too
    env = {**EVALUATION_ENV, "REDIS_URL": "redis://:own@cache/0", "REDIS_PASSWORD": "other"}
    # When / Then the URL's own is used
    assert EvaluationSettings.from_env(env).redis_url == "redis://:own@cache/0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTH_FAILURE_LIMIT", "-1"),
        ("AUTH_FAILURE_LIMIT", "many"),
        ("AUTH_FAILURE_WINDOW_SECONDS", "0"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, the-ingress"),
    ],
)
def test_rate_limits__bad_value__error_names_variable(variable: str, value: str) -> None:
    # Given / When
    with pytest.raises(ConfigError) as caught:
        EvaluationSettings.from_env({**EVALUATION_ENV, variable: value})
    # Then
    assert variable in str(caught.value)


def test_rate_limits__defaults__documented_values() -> None:
    # Given / When
    settings = EvaluationSettings.from_env(EVALUATION_ENV)
    # Then
    assert (settings.auth_failure_limit, settings.auth_failure_window_seconds) == (30, 60)
    assert settings.trusted_proxies == ""
