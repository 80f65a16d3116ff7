"""Settings are read once and every error names the variable to fix."""

from __future__ import annotations

import pytest

from functions.core.errors import ConfigError
from functions.core.settings import AnalyticsSettings, AuthSettings, EvaluationSettings

EVALUATION_ENV = {
    "REDIS_URL": "redis://127.0.0.1:6390/0",
    "CONFIG_DATABASE_URL": "postgresql://u@127.0.0.1:5433/flags_db",
    "AUTH_DATABASE_URL": "postgresql://u@127.0.0.1:5433/auth_db",
    "AWS_SQS_URL": "http://127.0.0.1:4566/000000000000/events",
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
    env = {"DATABASE_URL": "mysql://db/x", "MASTER_KEY": "a-very-secret-master-key"}
    # When the settings are read
    with pytest.raises(ConfigError) as caught:
        AuthSettings.from_env(env)
    # Then the variable is named, and no secret is echoed
    assert "DATABASE_URL" in str(caught.value)
    assert "a-very-secret-master-key" not in str(caught.value)


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


@pytest.mark.parametrize("old_name", ["AWS_SQS_ENDPOINT_URL", "AWS_DYNAMODB_ENDPOINT_URL"])
def test_aws_settings__old_endpoint_variable__accepted(old_name: str) -> None:
    # Given the old deployment's endpoint variable only
    env = {old_name: "http://127.0.0.1:4566"}
    # When the analytics settings are read
    settings = AnalyticsSettings.from_env(env)
    # Then it becomes the AWS endpoint, and the table keeps the seed's name
    assert settings.aws_endpoint_url == "http://127.0.0.1:4566"
    assert settings.aws_dynamodb_table == "ToggleMasterAnalytics"
