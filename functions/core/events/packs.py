"""A pack of evaluation events on the wire: how evaluation seals it, how analytics opens it.

One SQS message body::

    {"pack_id": "<uuid4>", "count": 4096,
     "events_zlib": "<base64 of the zlib stream of the payload>",
     "signature": "<HMAC-SHA256, 64 hex digits>"}

The payload is JSON in one of two formats (`open_pack` reads both):

- "rows", what evaluation seals (`seal_payload` with `rows_head`, or `seal_rows`)::

      {"format": "rows", "id_prefix": "<the producer's 24 characters>",
       "columns": ["sequence", "time", "user_id", ...], "rows": [[7, 1764669600.123, ...], ...]}

  each row the decision as the request path queued it (see `ROWS_COLUMNS`). The sender
  encodes a whole chunk of rows with one `orjson.dumps` call (about 0.15 µs an event,
  against 1.8 µs for one JSON object per event written in Python); the reader makes of
  each row the event format 1 would carry (`schema.parse_body`).
- format 1, `[event, event, ...]`, each event a JSON object: what evaluation sealed
  before rows (packs of it may still wait in the queue) and what redrive seals (`seal`).

Compressed, because the events of one process repeat their flag names, environments,
reasons and the leading digits of their times: zlib at level 1 shrinks rows 5 to 8
times (base64 included; to 12 to 20 bytes an event, about what format 1 took: rows
drop the field names, but a time's sub-millisecond digits do not compress) for about
0.3 µs an event, most of it outside the GIL. SQS bills each started 64 KiB of a
message, so that is as many times fewer billed requests, and less for the queue to carry.

Signed with `EVENTS_SIGNING_SECRET`, which evaluation and analytics share and nothing
else holds: whoever can reach the queue or analytics cannot make up events. The MAC
covers the pack id, the count and the compressed payload as sent, so nothing in a
signed pack can be changed; replaying it whole is a redelivery, which analytics absorbs.

Opening refuses, before inflating anything, a wrong or missing signature (when a secret
is configured), and inflates at most `MAX_INFLATED_BYTES`: a small body cannot expand
into gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from functions.core.keys.signing import Signer

PURPOSE = "event-pack"
"""What a pack's MAC is made for: a value signed for another purpose never passes."""

MAX_EVENTS = 4096
"""Events per pack: bounds what one delivery asks analytics to write."""

MAX_INFLATED_BYTES = 8 * 1024 * 1024
"""The payload of `MAX_EVENTS` events at their largest is well under this."""

COMPRESSION_LEVEL = 1
"""Level 1 compresses rows nearly as well as 6 (5 to 8× against 7 to 10×) in a third of
the time."""

ROWS = "rows"
ROWS_COLUMNS = (
    "sequence",
    "time",
    "user_id",
    "flag_name",
    "result",
    "environment",
    "variant",
    "reason",
    "request_id",
)
"""What evaluation's rows hold, in this order: the producer's event counter, `time.time()`
of the decision, its fields, and the request's correlation id (null: none)."""
ROWS_REQUIRED = frozenset(ROWS_COLUMNS[:5])
"""Columns without which no event can be made; the others are null when absent, and
columns a later producer adds are ignored."""

_FIELDS = frozenset({"pack_id", "count", "events_zlib", "signature"})
_HEX = frozenset("0123456789abcdef")


class PackError(ValueError):
    """A compressed pack that cannot be trusted or read; the message says why."""


class SignatureError(PackError):
    """A compressed pack without the signature the configured secret makes: forged,
    altered, or sealed with another secret."""


@dataclass(frozen=True, slots=True)
class Rows:
    """A rows payload checked as a whole; each row is checked as it is read."""

    id_prefix: str
    columns: tuple[str, ...]
    rows: list[object]


@dataclass(frozen=True, slots=True)
class OpenedPack:
    pack_id: str
    payload: list[object] | Rows
    """Format 1: the events (JSON values, each to validate); "rows": the rows."""
    signed: bool
    """True when a configured secret verified it."""


def _signed_bytes(pack_id: str, count: int, payload: str) -> bytes:
    return f"{pack_id}\n{count}\n{payload}".encode()


def seal_payload(pack_id: str, count: int, payload: bytes, signer: Signer | None) -> str:
    """The message body of a payload (JSON bytes) holding `count` events, signed when
    `signer` is set."""
    text = base64.b64encode(zlib.compress(payload, COMPRESSION_LEVEL)).decode("ascii")
    signature = (
        ""
        if signer is None
        else f',"signature":"{signer.mac(PURPOSE, _signed_bytes(pack_id, count, text))}"'
    )
    return f'{{"pack_id":{json.dumps(pack_id)},"count":{count},"events_zlib":"{text}"{signature}}}'


def seal(pack_id: str, events: Sequence[str], signer: Signer | None) -> str:
    """A format-1 message body: `events` are each one event's JSON text (redrive)."""
    return seal_payload(pack_id, len(events), ("[" + ",".join(events) + "]").encode(), signer)


def rows_head(id_prefix: str) -> bytes:
    """A rows payload up to its rows: `{"format":"rows",...,"rows":`; the JSON array of
    the rows and `}` complete it."""
    return (
        b'{"format":"rows","id_prefix":'
        + orjson.dumps(id_prefix)
        + b',"columns":'
        + orjson.dumps(ROWS_COLUMNS)
        + b',"rows":'
    )


def seal_rows(
    pack_id: str, id_prefix: str, rows: Sequence[Sequence[object]], signer: Signer | None
) -> str:
    """A "rows" message body of `rows` (each laid out as `ROWS_COLUMNS`). Raises
    TypeError for a value JSON cannot hold (orjson refuses a lone surrogate, for one)."""
    payload = rows_head(id_prefix) + orjson.dumps(rows) + b"}"
    return seal_payload(pack_id, len(rows), payload, signer)


def is_compressed(document: Mapping[str, object]) -> bool:
    return "events_zlib" in document


def open_pack(document: Mapping[str, object], signer: Signer | None) -> OpenedPack:
    """The payload of a compressed pack, after its signature (when `signer` is set), its
    format and its count were checked."""
    unknown = set(document) - _FIELDS
    if unknown:
        raise PackError(f"unknown fields in a compressed pack: {sorted(unknown)}")
    pack_id, count, text = (
        document.get("pack_id"),
        document.get("count"),
        document.get("events_zlib"),
    )
    if not isinstance(pack_id, str) or not 0 < len(pack_id) <= 512 or not pack_id.isascii():
        raise PackError("pack_id: a string of 1 to 512 ASCII characters is required")
    if type(count) is not int or not 0 < count <= MAX_EVENTS:
        raise PackError(f"count: an integer from 1 to {MAX_EVENTS} is required")
    if not isinstance(text, str) or not text:
        raise PackError("events_zlib: base64 text is required")
    signature = document.get("signature")
    if signer is not None:
        if not isinstance(signature, str):
            raise SignatureError("the pack is not signed")
        # compare_digest raises TypeError on non-ASCII text: only 64 hex digits are compared
        if (
            len(signature) != 64
            or not all(c in _HEX for c in signature)
            or not signer.valid(PURPOSE, _signed_bytes(pack_id, count, text), signature)
        ):
            raise SignatureError("the pack's signature is wrong")
    payload = _payload(_inflate(text))
    held = len(payload) if isinstance(payload, list) else len(payload.rows)
    if held != count:
        raise PackError(f"count says {count} events, the payload holds {held}")
    return OpenedPack(pack_id, payload, signed=signer is not None)


def _inflate(text: str) -> object:
    try:
        compressed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PackError("events_zlib is not base64") from None
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(compressed, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise PackError(f"events_zlib is not a zlib stream: {exc}") from None
    if inflater.unconsumed_tail:
        raise PackError(f"events_zlib inflates beyond {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        raise PackError("events_zlib is truncated")
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise PackError(f"events_zlib does not hold JSON: {exc}") from None


def _payload(document: object) -> list[object] | Rows:
    """Format 1 as it is; a rows object once its format, prefix and columns are known."""
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        raise PackError("events_zlib must hold a JSON array of events or a rows object")
    kind = document.get("format")
    if kind != ROWS:
        raise PackError(f"events_zlib holds an unknown format: {str(kind)[:40]!r}")
    id_prefix, columns, rows = (
        document.get("id_prefix"),
        document.get("columns"),
        document.get("rows"),
    )
    if not isinstance(id_prefix, str) or not 0 < len(id_prefix) <= 500:
        raise PackError("id_prefix: a string of 1 to 500 characters is required")
    if (
        not isinstance(columns, list)
        or not all(isinstance(name, str) for name in columns)
        or len(set(columns)) != len(columns)
    ):
        raise PackError("columns: a list of distinct names is required")
    missing = ROWS_REQUIRED.difference(columns)
    if missing:
        raise PackError(f"columns: {sorted(missing)} missing")
    if not isinstance(rows, list):
        raise PackError("rows: a list is required")
    return Rows(id_prefix, tuple(columns), rows)
