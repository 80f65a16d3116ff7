"""Typed settings per function, read from the environment once at start-up.

Every field's alias is the environment variable it comes from, so an error can
name the variable an operator has to fix (seed report §1.6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from functions.core.errors import ConfigError
from functions.core.names import EnvironmentKey


def _url_with_scheme(*schemes: str) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or (not parts.hostname and not parts.path):
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return value.rstrip("/") if parts.scheme in ("http", "https") else value

    return AfterValidator(check)


PostgresUrl = Annotated[str, _url_with_scheme("postgres", "postgresql")]
RedisUrl = Annotated[str, _url_with_scheme("redis", "rediss", "unix")]
HttpUrl = Annotated[str, _url_with_scheme("http", "https")]


class Settings(BaseModel):
    """Base: fields are filled from the environment variables named by their aliases."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    log_level: str = Field("INFO", alias="LOG_LEVEL", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        aliases = {field.alias or name for name, field in cls.model_fields.items()}
        present = {name: environ[name] for name in aliases if environ.get(name, "") != ""}
        try:
            return cls.model_validate(present)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                variable = ".".join(str(part) for part in error["loc"])
                what = (
                    "is required"
                    if error["type"] == "missing"
                    else error["msg"].removeprefix("Value error, ")
                )
                problems.append(f"{variable} {what}")
            raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


class AwsSettings(Settings):
    aws_region: str = Field("us-east-1", alias="AWS_REGION", min_length=1)
    aws_endpoint_url: HttpUrl | None = Field(None, alias="AWS_ENDPOINT_URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """Also accept the old deployment's per-service endpoint variables."""
        if not environ.get("AWS_ENDPOINT_URL"):
            for old in ("AWS_SQS_ENDPOINT_URL", "AWS_DYNAMODB_ENDPOINT_URL"):
                if environ.get(old):
                    environ = {**environ, "AWS_ENDPOINT_URL": environ[old]}
                    break
        return super().from_env(environ)


class AuthSettings(Settings):
    """`CONFIG_DATABASE_URL` (the flags function's database, read only): where auth
    learns which environments exist, so that no key is bound to one that does not.
    Without it, only the environment name's syntax is checked."""

    database_url: PostgresUrl = Field(alias="DATABASE_URL")
    master_key: str = Field(alias="MASTER_KEY", min_length=12)
    redis_url: RedisUrl | None = Field(None, alias="REDIS_URL")
    config_database_url: PostgresUrl | None = Field(None, alias="CONFIG_DATABASE_URL")


class FlagsSettings(Settings):
    """flags, and targeting beside it: both own tables in the one configuration database."""

    database_url: PostgresUrl = Field(alias="DATABASE_URL")
    auth_service_url: HttpUrl = Field(alias="AUTH_SERVICE_URL")
    redis_url: RedisUrl = Field(alias="REDIS_URL")
    default_environment: EnvironmentKey = Field("production", alias="DEFAULT_ENVIRONMENT")


class TargetingSettings(FlagsSettings):
    """The same variables as flags: both own tables in the configuration database."""


class EvaluationSettings(AwsSettings):
    """Evaluation reads the configuration and the keys from their databases, read-only,
    and needs none of the admin functions (they scale to zero)."""

    redis_url: RedisUrl = Field(alias="REDIS_URL")
    config_database_url: PostgresUrl = Field(alias="CONFIG_DATABASE_URL")
    auth_database_url: PostgresUrl = Field(alias="AUTH_DATABASE_URL")
    aws_sqs_url: HttpUrl = Field(alias="AWS_SQS_URL")
    default_environment: EnvironmentKey = Field("production", alias="DEFAULT_ENVIRONMENT")
    config_check_seconds: float = Field(0.5, alias="CONFIG_CHECK_SECONDS", gt=0, le=60)
    config_stale_seconds: float = Field(2.0, alias="CONFIG_STALE_SECONDS", gt=0, le=3600)
    event_buffer_size: int = Field(10_000, alias="EVENT_BUFFER_SIZE", ge=100, le=1_000_000)
    event_flush_seconds: float = Field(1.0, alias="EVENT_FLUSH_SECONDS", gt=0, le=10)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """`DATABASE_URL` stands for the configuration database when
        `CONFIG_DATABASE_URL` is not set."""
        if not environ.get("CONFIG_DATABASE_URL") and environ.get("DATABASE_URL"):
            environ = {**environ, "CONFIG_DATABASE_URL": environ["DATABASE_URL"]}
        return super().from_env(environ)


class AnalyticsSettings(AwsSettings):
    aws_dynamodb_table: str = Field(
        "ToggleMasterAnalytics", alias="AWS_DYNAMODB_TABLE", pattern=r"^[A-Za-z0-9_.-]{3,255}$"
    )
