"""Evaluation events: the schema producers and analytics agree on.

One SQS message carries a pack: compressed and signed as `events.packs` seals it, or
plain `{"pack_id", "events": [...]}`, or the seed's body of one bare event; analytics
reads only signed packs (see `parse_body`). A signed pack's payload is either the events
(format 1) or rows (what evaluation sends: one array per decision, `RowsPayload`), from
which the reader makes the same events: `event_id(id_prefix, sequence)`,
`format_timestamp(time)`, no `request_id` when it is null.
The JSON Schemas in `events/` are generated from these models (`make schemas`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
)

from functions.core.events.packs import (
    MAX_EVENTS,
    ROWS_COLUMNS,
    ROWS_REQUIRED,
    PackError,
    Rows,
    SignatureError,
    is_compressed,
    open_pack,
)
from functions.core.keys.signing import Signer

SQS_MAX_MESSAGE_BYTES = 262_144

Text = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class EvaluationEvent(BaseModel):
    """One decision. `event_id` is minted by the producer so redelivery rewrites, not adds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Text | None = Field(None, description="producer-minted id; derived when absent")
    user_id: Text
    flag_name: Text
    result: StrictBool
    timestamp: Text = Field(description="ISO-8601 UTC")
    environment: Text | None = None
    variant: Text | None = None
    reason: Text | None = None
    request_id: Text | None = Field(
        None, description="the X-Request-Id of the request that made the decision"
    )

    def with_id(self) -> EvaluationEvent:
        """The seed's events carry no id: derive a stable one from their content."""
        if self.event_id:
            return self
        canonical = json.dumps(self.model_dump(exclude={"event_id"}), sort_keys=True)
        return self.model_copy(update={"event_id": str(uuid.uuid5(_SEED_NAMESPACE, canonical))})


class EventPack(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    pack_id: Text
    events: list[EvaluationEvent] = Field(min_length=1)


class SignedPack(BaseModel):
    """What evaluation sends (`events.packs`): the payload (`RowsPayload`; or, from older
    producers and redrive, the JSON array of the events) as the base64 of its zlib stream,
    with an HMAC-SHA256 over the pack id, the count and that text, made with
    `EVENTS_SIGNING_SECRET`. Analytics reads nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pack_id: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[ -~]+$")]
    count: int = Field(ge=1, le=MAX_EVENTS, description="how many events the payload holds")
    events_zlib: str = Field(
        min_length=1,
        description="base64 of the zlib stream of the payload: a rows object "
        "(rows-payload.schema.json) or `[event, event, ...]`",
    )
    signature: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256, in hex")


RowValue = StrictInt | float | StrictBool | str | None


class RowsPayload(BaseModel):
    """What a signed pack from evaluation inflates to: each decision as one array of
    values, named once by `columns`. Each row is the event
    `{"event_id": id_prefix + sequence as 12 hex digits, "timestamp": time as ISO-8601
    UTC with milliseconds, ...}`, without `request_id` when it is null; a row that makes
    no valid event is refused alone."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: Literal["rows"]
    id_prefix: str = Field(
        min_length=1, max_length=500, description="the producer's 24 characters of a UUID"
    )
    columns: list[str] = Field(
        description="the name of each row's values, in order: sequence, time, user_id, "
        "flag_name and result are required, environment, variant, reason and request_id are "
        "null when absent, others are ignored",
        json_schema_extra={
            "uniqueItems": True,
            "allOf": [
                {"contains": {"const": name}} for name in ROWS_COLUMNS if name in ROWS_REQUIRED
            ],
        },
    )
    rows: list[list[RowValue]] = Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description="sequence (integer), time (epoch seconds), user_id, flag_name, result "
        "(boolean), environment, variant, reason and request_id (string or null)",
    )


_SEED_NAMESPACE = uuid.UUID("6f0d4a55-3c8e-4b8e-9c52-2f1a7c0e9d11")


class InvalidEventBody(ValueError):
    """The body is neither a pack nor an event."""


def new_event(
    *,
    user_id: str,
    flag_name: str,
    result: bool,
    environment: str | None,
    variant: str | None,
    reason: str | None,
    request_id: str | None = None,
) -> dict[str, object]:
    """A producer-side event as a plain dict, validated by analytics.

    It costs a uuid4 and a datetime on the caller's thread: the hot path calls
    `EventPublisher.publish_evaluation`, whose rows are read as the same document.
    """
    return {
        "event_id": str(uuid.uuid4()),
        "user_id": user_id,
        "flag_name": flag_name,
        "result": result,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "environment": environment,
        "variant": variant,
        "reason": reason,
        **({} if request_id is None else {"request_id": request_id}),
    }


def new_id_prefix() -> str:
    """The first 24 characters of a fresh UUIDv4 (`xxxxxxxx-xxxx-4xxx-yxxx-`), minted once
    per process: `event_id(prefix, n)` appends a 48-bit counter, so a producer mints
    globally unique ids without a uuid4 per event (74 random bits tell processes apart)."""
    return str(uuid.uuid4())[:24]


def event_id(prefix: str, sequence: int) -> str:
    """A UUID-shaped id: the process's random prefix and its event counter (in hex)."""
    return f"{prefix}{sequence & 0xFFFF_FFFF_FFFF:012x}"


_second: tuple[int, str] = (-1, "")


def format_timestamp(seconds: float) -> str:
    """`time.time()` as `new_event` writes it (ISO-8601 UTC, milliseconds, `Z`).

    The date and time of the current second are formatted once and reused: a producer
    formats thousands of events per second.
    """
    global _second
    millis = int(seconds * 1000)
    whole, fraction = divmod(millis, 1000)
    cached, text = _second
    if cached != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{fraction:03d}Z"


def _optional(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def encode_evaluation(
    event_id: str,
    timestamp: str,
    user_id: str,
    flag_name: str,
    result: bool,
    environment: str | None,
    variant: str | None,
    reason: str | None,
    request_id: str | None = None,
) -> str:
    """One event as compact JSON, the same document `json.dumps(new_event(...))` gives:
    a format-1 event, as evaluation wrote them before rows (tools and tests make such
    packs with it).

    Written out field by field (about 0.5 µs against 2.5 µs for `json.dumps` of a dict).
    The output is ASCII (non-ASCII is escaped), so its length is its size in bytes.
    `event_id` and `timestamp` must come from `event_id` and `format_timestamp` (nothing
    to escape); `request_id` is the correlation id of the request that decided (None: none).
    """
    return (
        f'{{"event_id":"{event_id}","user_id":{encode_basestring_ascii(user_id)},'
        f'"flag_name":{encode_basestring_ascii(flag_name)},'
        f'"result":{"true" if result else "false"},"timestamp":"{timestamp}",'
        f'"environment":{_optional(environment)},"variant":{_optional(variant)},'
        f'"reason":{_optional(reason)}{_request_id(request_id)}}}'
    )


def _request_id(request_id: str | None) -> str:
    """The optional last field: absent (not null) when the event was made outside a request."""
    return "" if request_id is None else f',"request_id":{encode_basestring_ascii(request_id)}'


@dataclass(frozen=True, slots=True)
class ParsedBody:
    pack_id: str | None
    events: list[EvaluationEvent]
    refused: list[str]
    """One line per event that could not be read: its index and why."""
    signed: bool = False
    """A compressed pack whose signature a configured secret verified."""


class UnsignedEventBody(InvalidEventBody):
    """A body that is not a pack signed with the events secret: forged, altered, unsigned
    or from a producer without the secret. Nothing of it may be stored."""


def event_moment(event: EvaluationEvent) -> datetime | None:
    """When the event happened (UTC; a timestamp without offset is taken as UTC), or None
    when its timestamp is not ISO-8601."""
    try:
        moment = datetime.fromisoformat(event.timestamp)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_body(body: bytes | str, *, signer: Signer | None = None) -> ParsedBody:
    """The events of an SQS message body, each with an id.

    With `signer`, only a compressed pack carrying its valid signature is read: anything
    else (a plain pack, the seed's bare event, a wrong or missing signature) is
    UnsignedEventBody, before a byte of it is inflated. Without, the three kinds are read:
    a compressed pack (see `events.packs`; its payload rows or events), a plain pack and
    the seed's bare event.

    One unreadable event or row does not sink its pack: the others are returned and the
    bad one is reported in `refused`. A body with nothing readable is InvalidEventBody.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidEventBody(f"not JSON: {exc}") from None
    if isinstance(document, dict) and is_compressed(document):
        try:
            opened = open_pack(document, signer)
        except SignatureError as exc:
            raise UnsignedEventBody(str(exc)) from None
        except PackError as exc:
            raise InvalidEventBody(str(exc)) from None
        return _events_of(opened.pack_id, opened.payload, signed=opened.signed)
    if signer is not None:
        kind = "a plain pack" if isinstance(document, dict) and "events" in document else "a body"
        raise UnsignedEventBody(
            f"{kind} without a signature: only packs signed with EVENTS_SIGNING_SECRET are read"
        )
    if not (isinstance(document, dict) and "events" in document):
        try:
            event = EvaluationEvent.model_validate(document).with_id()
        except ValidationError as exc:
            raise InvalidEventBody(_problem(exc)) from None
        if event_moment(event) is None:
            raise InvalidEventBody(_BAD_TIMESTAMP)
        return ParsedBody(None, [event], [])
    try:
        envelope = _Envelope.model_validate(document)
    except ValidationError as exc:
        raise InvalidEventBody(_problem(exc)) from None
    return _events_of(envelope.pack_id, envelope.events, signed=False)


_BAD_TIMESTAMP = "timestamp: must be an ISO-8601 date and time, such as 2026-11-24T10:00:00Z"


def _events_of(pack_id: str, payload: list[object] | Rows, *, signed: bool) -> ParsedBody:
    document: Callable[[object], object]
    if isinstance(payload, Rows):
        label, items, document = "rows", payload.rows, _RowReader(payload).event
    else:
        label, items, document = "events", payload, _as_it_is
    events, refused = [], []
    for index, item in enumerate(items):
        try:
            event = EvaluationEvent.model_validate(document(item)).with_id()
        except _BadRow as exc:
            refused.append(f"{label}[{index}]: {exc}")
            continue
        except ValidationError as exc:
            refused.append(f"{label}[{index}]: {_problem(exc)}")
            continue
        if event_moment(event) is None:
            refused.append(f"{label}[{index}]: {_BAD_TIMESTAMP}")
            continue
        events.append(event)
    if not events:
        raise InvalidEventBody("no readable event: " + "; ".join(refused[:5]))
    return ParsedBody(pack_id, events, refused, signed)


def _as_it_is(item: object) -> object:
    return item


class _BadRow(ValueError):
    """A row that makes no event: not an array of the columns' length, or a sequence or
    time that is not a number."""


class _RowReader:
    """Makes of each row of one rows payload the event format 1 would carry."""

    def __init__(self, rows: Rows) -> None:
        self._prefix = rows.id_prefix
        self._width = len(rows.columns)
        where = {name: index for index, name in enumerate(rows.columns)}
        self._at = [where.get(name) for name in ROWS_COLUMNS]

    def event(self, row: object) -> dict[str, object]:
        if type(row) is not list or len(row) != self._width:
            raise _BadRow(f"an array of {self._width} values is required")
        sequence, moment, user_id, flag_name, result, environment, variant, reason, request = (
            None if index is None else row[index] for index in self._at
        )
        if type(sequence) is not int:
            raise _BadRow("sequence: an integer is required")
        if not isinstance(moment, int | float) or isinstance(moment, bool):
            raise _BadRow("time: epoch seconds are required")
        try:
            timestamp = format_timestamp(moment)
        except (ValueError, OverflowError, OSError):
            raise _BadRow("time: epoch seconds within the calendar are required") from None
        return {
            "event_id": event_id(self._prefix, sequence),
            "user_id": user_id,
            "flag_name": flag_name,
            "result": result,
            "timestamp": timestamp,
            "environment": environment,
            "variant": variant,
            "reason": reason,
            **({} if request is None else {"request_id": request}),
        }


class _Envelope(BaseModel):
    pack_id: Text
    events: list[object] = Field(min_length=1)


def _problem(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )[:500]
