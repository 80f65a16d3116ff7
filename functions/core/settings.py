"""Typed settings per function, read from the environment once at start-up.

Every field's alias is the environment variable it comes from, so an error can
name the variable an operator has to fix (seed report §1.6).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Self
from urllib.parse import quote, urlsplit, urlunsplit

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


def proxy_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`TRUSTED_PROXIES`: comma-separated addresses or networks (`10.0.0.0/8,127.0.0.1`)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )


def _networks(value: str) -> str:
    try:
        proxy_networks(value)
    except ValueError:
        raise ValueError(
            "must be comma-separated addresses or networks, such as 10.0.0.0/8,127.0.0.1"
        ) from None
    return value


ProxyNetworks = Annotated[str, AfterValidator(_networks)]


def with_redis_password(environ: Mapping[str, str]) -> Mapping[str, str]:
    """`REDIS_PASSWORD` put into `REDIS_URL` (unless the URL has a password of its own), so
    that the one Redis client factory sees one URL."""
    password, url = environ.get("REDIS_PASSWORD", ""), environ.get("REDIS_URL", "")
    if not password or not url:
        return environ
    parts = urlsplit(url)
    if parts.password is not None:
        return environ
    if parts.scheme == "unix":
        query = "&".join(q for q in (parts.query, f"password={quote(password, safe='')}") if q)
        merged = urlunsplit(parts._replace(query=query))
    else:
        user = quote(parts.username, safe="") if parts.username else ""
        host = parts.netloc.rpartition("@")[2]
        merged = urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))
    return {**environ, "REDIS_URL": merged}


DEFAULT_METRICS_NAMESPACE = "ToggleMaster"


class Settings(BaseModel):
    """Base: fields are filled from the environment variables named by their aliases."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    log_level: str = Field("INFO", alias="LOG_LEVEL", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    metrics_emf: bool | None = Field(None, alias="METRICS_EMF")
    metrics_namespace: str | None = Field(
        None, alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1, max_length=255
    )
    metrics_emf_seconds: float = Field(60.0, alias="METRICS_EMF_SECONDS", ge=1, le=3600)

    def emf_namespace(self) -> str | None:
        """The CloudWatch namespace of the metrics' EMF lines, or None when none are written:
        METRICS_EMF=1 writes them (namespace `ToggleMaster` unless
        POWERTOOLS_METRICS_NAMESPACE names one), POWERTOOLS_METRICS_NAMESPACE alone too,
        METRICS_EMF=0 never."""
        if self.metrics_emf is False or (self.metrics_emf is None and not self.metrics_namespace):
            return None
        return self.metrics_namespace or DEFAULT_METRICS_NAMESPACE

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        environ = with_redis_password(environ)
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


def _strong_secret(value: str) -> str:
    if len(value) < 32 or len(set(value)) < 12:
        raise ValueError(
            "must be a random secret of at least 32 characters (for example the output of"
            " `openssl rand -hex 32`), the same in every function"
        )
    return value


GrantSecret = Annotated[str, AfterValidator(_strong_secret)]


class KeyChecks(Settings):
    """What every function that checks API keys shares: the secret that signs what they
    tell each other about keys through Redis (`keys.signing`), and the limit on failed
    authentications per client (`http.throttle`; 0 turns it off)."""

    grant_secret: GrantSecret = Field(alias="GRANT_SECRET", repr=False)
    auth_failure_limit: int = Field(30, alias="AUTH_FAILURE_LIMIT", ge=0, le=1_000_000)
    auth_failure_window_seconds: int = Field(
        60, alias="AUTH_FAILURE_WINDOW_SECONDS", ge=1, le=86_400
    )
    trusted_proxies: ProxyNetworks = Field("", alias="TRUSTED_PROXIES")


PUBLISHED_MASTER_KEYS = frozenset({"change-this-master-key", "admin-secreto-123"})
"""Master keys printed where anyone can read them: compose's old default, the previous
ToggleMaster's README."""
MASTER_KEY_MIN_LENGTH = 32
MASTER_KEY_MIN_DISTINCT = 10
MAKE_A_MASTER_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _strong_master_key(value: str) -> str:
    """Refuse a published, short or repetitive MASTER_KEY (never quoting it: it is a
    secret even when it is a bad one)."""
    if value.strip().lower() in PUBLISHED_MASTER_KEYS:
        problem = "is a published example, known to anyone who read it"
    elif len(value) < MASTER_KEY_MIN_LENGTH:
        problem = f"is {len(value)} characters long; it must have at least {MASTER_KEY_MIN_LENGTH}"
    elif len(set(value)) < MASTER_KEY_MIN_DISTINCT:
        problem = (
            f"uses only {len(set(value))} different characters; it must use at least"
            f" {MASTER_KEY_MIN_DISTINCT}"
        )
    else:
        return value
    raise ValueError(f"{problem}: make one with {MAKE_A_MASTER_KEY}")


MasterKey = Annotated[str, AfterValidator(_strong_master_key)]

IMPORT_MAX_BYTES = 1024 * 1024
"""`POST /import`'s default body limit: a YAML document of 1 MiB costs about a second of
one core to parse at worst; a JSON one far less."""


class AuthSettings(KeyChecks):
    """`CONFIG_DATABASE_URL` (the flags function's database, read only): where auth
    learns which environments exist, so that no key is bound to one that does not.
    Without it, only the environment name's syntax is checked."""

    database_url: PostgresUrl = Field(alias="DATABASE_URL")
    master_key: MasterKey = Field(alias="MASTER_KEY")
    redis_url: RedisUrl | None = Field(None, alias="REDIS_URL")
    config_database_url: PostgresUrl | None = Field(None, alias="CONFIG_DATABASE_URL")
    admin_rate_limit: int = Field(120, alias="ADMIN_RATE_LIMIT", ge=0, le=1_000_000)
    admin_rate_window_seconds: int = Field(60, alias="ADMIN_RATE_WINDOW_SECONDS", ge=1, le=86_400)


class FlagsSettings(KeyChecks):
    """flags, and targeting beside it: both own tables in the one configuration database.
    They read the keys from auth's database (`AUTH_DATABASE_URL`, read only) and hold them
    in memory, as evaluation does, checking its version every `KEY_CHECK_SECONDS`."""

    database_url: PostgresUrl = Field(alias="DATABASE_URL")
    auth_service_url: HttpUrl = Field(alias="AUTH_SERVICE_URL")
    redis_url: RedisUrl = Field(alias="REDIS_URL")
    auth_database_url: PostgresUrl = Field(alias="AUTH_DATABASE_URL")
    key_check_seconds: float = Field(0.5, alias="KEY_CHECK_SECONDS", gt=0, le=60)
    default_environment: EnvironmentKey = Field("production", alias="DEFAULT_ENVIRONMENT")
    import_max_bytes: int = Field(
        IMPORT_MAX_BYTES, alias="IMPORT_MAX_BYTES", ge=64 * 1024, le=64 * 1024 * 1024
    )
    """The largest `POST /import` body (413 above it, before it is read)."""


class TargetingSettings(FlagsSettings):
    """The same variables as flags: both own tables in the configuration database."""


class EvaluationSettings(AwsSettings, KeyChecks):
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
    events_signing_secret: GrantSecret = Field(alias="EVENTS_SIGNING_SECRET", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """`DATABASE_URL` stands for the configuration database when
        `CONFIG_DATABASE_URL` is not set."""
        if not environ.get("CONFIG_DATABASE_URL") and environ.get("DATABASE_URL"):
            environ = {**environ, "CONFIG_DATABASE_URL": environ["DATABASE_URL"]}
        return super().from_env(environ)


def _raw_events(value: str) -> str:
    if value in ("all", "off"):
        return value
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction < 1:
        raise ValueError("must be all, off, or a fraction between 0 and 1 such as 0.1")
    return value


RawEvents = Annotated[str, AfterValidator(_raw_events)]
TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"


class AnalyticsSettings(AwsSettings, KeyChecks):
    """Analytics stores what evaluation sends (only packs signed with
    `EVENTS_SIGNING_SECRET`, required: without it anyone who reaches the queue or the
    function could write events) and answers queries with `read` keys, held in memory
    as flags holds them; `CONFIG_DATABASE_URL` (read only) says which flags are defined.
    `RAW_EVENTS`: which raw events are kept (all, off, or a fraction such as 0.1, chosen
    by event id); the counters always count every event."""

    aws_dynamodb_table: str = Field(
        "ToggleMasterAnalytics", alias="AWS_DYNAMODB_TABLE", pattern=TABLE_NAME_PATTERN
    )
    aws_dynamodb_counts_table: str = Field(
        "ToggleMasterAnalyticsCounts", alias="AWS_DYNAMODB_COUNTS_TABLE", pattern=TABLE_NAME_PATTERN
    )
    events_signing_secret: GrantSecret = Field(alias="EVENTS_SIGNING_SECRET", repr=False)
    raw_events: RawEvents = Field("all", alias="RAW_EVENTS")
    raw_events_retention_days: int = Field(30, alias="RAW_EVENTS_RETENTION_DAYS", ge=1, le=3650)
    redis_url: RedisUrl = Field(alias="REDIS_URL")
    auth_database_url: PostgresUrl = Field(alias="AUTH_DATABASE_URL")
    config_database_url: PostgresUrl = Field(alias="CONFIG_DATABASE_URL")
    key_check_seconds: float = Field(0.5, alias="KEY_CHECK_SECONDS", gt=0, le=60)
    default_environment: EnvironmentKey = Field("production", alias="DEFAULT_ENVIRONMENT")

    @property
    def raw_fraction(self) -> float:
        """The share of raw events kept: 1.0 for all, 0.0 for off."""
        named = {"all": 1.0, "off": 0.0}
        return named[self.raw_events] if self.raw_events in named else float(self.raw_events)
