"""The `ToggleMasterAnalyticsCounts` DynamoDB table: counters applied exactly once per
pack, and each flag's last evaluation. Owned by analytics.

Items (`pk`, `sk`; every `#` below is a separator, and the last part may hold anything):

- `F#<env>#<flag>`, `H#<hour>#<1 or 0>#<variant>`: `n`, the flag's evaluations in the
  hour with that result and variant (who got what);
- `E#<env>`, `H#<hour>#<flag>`: `n`, the flag's evaluations in the hour (flags by window);
- `E#<env>`, `D#<day>#<flag>`: the same per UTC day, so a long window reads 24 times
  fewer items;
- `P#<pack_id>`, `<i>/<n>`: marker, part i of n of the pack's counters is applied;
- `L#<env>`, `<flag>`: `last`, the latest hour the flag was evaluated in.

`<hour>` is `2026-11-24T10`, `<day>` `2026-11-24`, both UTC.

A pack's counter increments are applied by `TransactWriteItems`, each transaction
holding a marker put on condition that it does not exist yet: a redelivery finds the
marker, its transaction is cancelled whole, and nothing is counted twice, whether the
function died before, between or after the transactions. A pack touching more items
than one transaction holds is split into parts, in an order that depends only on the
pack, so a redelivery makes the same parts. `last` only ever moves forward (a
conditional update, idempotent), so it needs no marker.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.core.errors import ServiceUnavailable

TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the actions of one transaction: the marker and 99 counters."""
COUNTS_RETENTION_DAYS = 400
"""Counters outlive a year of comparisons, then TTL removes them."""
MARKER_RETENTION_DAYS = 35
"""Longer than any redelivery: SQS keeps a message 14 days at most, queue and dead-letter
queue together, since it was first sent."""
HOUR_FORMAT = "%Y-%m-%dT%H"
DAY_FORMAT = "%Y-%m-%d"
_RETRIED = frozenset(
    {
        "TransactionConflict",
        "TransactionConflictException",
        "ThrottlingError",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "InternalServerError",
    }
)
_ATTEMPTS = 6
_MAX_PK_BYTES = 2048
_MAX_SK_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one evaluation counts as."""

    environment: str
    flag: str
    hour: datetime
    result: bool
    variant: str | None


def outcome_keys(outcome: Outcome) -> list[tuple[str, str]]:
    """The counter items one evaluation adds 1 to."""
    hour, day = outcome.hour.strftime(HOUR_FORMAT), outcome.hour.strftime(DAY_FORMAT)
    environment, flag = outcome.environment, outcome.flag
    return [
        (
            f"F#{environment}#{flag}",
            f"H#{hour}#{int(outcome.result)}#{outcome.variant or ''}",
        ),
        (f"E#{environment}", f"H#{hour}#{flag}"),
        (f"E#{environment}", f"D#{day}#{flag}"),
    ]


def fits(outcome: Outcome) -> bool:
    """Whether its keys fit DynamoDB's key sizes (a flag or variant of thousands of bytes
    cannot be counted)."""
    return all(
        len(pk.encode()) <= _MAX_PK_BYTES and len(sk.encode()) <= _MAX_SK_BYTES
        for pk, sk in outcome_keys(outcome)
    )


def increments(outcomes: Sequence[Outcome]) -> list[tuple[str, str, int]]:
    """Every counter item the outcomes touch with what it gains, in key order."""
    gains: Counter[tuple[str, str]] = Counter()
    for outcome in outcomes:
        gains.update(outcome_keys(outcome))
    return [(pk, sk, gains[(pk, sk)]) for pk, sk in sorted(gains)]


def parts(
    gains: Sequence[tuple[str, str, int]],
) -> list[tuple[str, Sequence[tuple[str, str, int]]]]:
    """The pack's increments as transactions of at most `TRANSACTION_ITEMS` actions: each
    with the sort key of its marker."""
    size = TRANSACTION_ITEMS - 1
    chunks = [gains[start : start + size] for start in range(0, len(gains), size)]
    return [(f"{index}/{len(chunks)}", chunk) for index, chunk in enumerate(chunks)]


@dataclass(frozen=True, slots=True)
class Applied:
    parts: int
    """Parts applied now."""
    already: int
    """Parts a previous delivery had applied (skipped)."""


class CountsStore:
    def __init__(self, *, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    # -- writes ----------------------------------------------------------------------

    def is_counted(self, pack_id: str, gains: Sequence[tuple[str, str, int]]) -> bool:
        """Whether every part of the pack is applied already (a redelivery after success)."""
        keys = [{"pk": {"S": f"P#{pack_id}"}, "sk": {"S": marker}} for marker, _ in parts(gains)]
        found = 0
        for start in range(0, len(keys), 100):
            request = {self._table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for attempt in range(_ATTEMPTS):
                answer = self._call("batch_get_item", RequestItems=request)
                found += len(answer.get("Responses", {}).get(self._table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                _pause(attempt)
            else:
                return False
        return found == len(keys)

    def apply(
        self, pack_id: str, gains: Sequence[tuple[str, str, int]], *, now: datetime
    ) -> Applied:
        """Apply each part of the pack's increments once, whatever was applied before."""
        marker_expiry = str(int((now + timedelta(days=MARKER_RETENTION_DAYS)).timestamp()))
        applied = already = 0
        for marker, chunk in parts(gains):
            actions: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": {"S": f"P#{pack_id}"},
                            "sk": {"S": marker},
                            "expires_at": {"N": marker_expiry},
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                *(self._increment(pk, sk, gain) for pk, sk, gain in chunk),
            ]
            if self._transact(actions):
                applied += 1
            else:
                already += 1
        return Applied(parts=applied, already=already)

    def _increment(self, pk: str, sk: str, gain: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                "UpdateExpression": "ADD #n :n SET #e = :e",
                "ExpressionAttributeNames": {"#n": "n", "#e": "expires_at"},
                "ExpressionAttributeValues": {
                    ":n": {"N": str(gain)},
                    ":e": {"N": str(_expiry(sk))},
                },
            }
        }

    def _transact(self, actions: list[dict[str, Any]]) -> bool:
        """True when applied, False when its marker showed it applied before."""
        for attempt in range(_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=actions)
                return True
            except ClientError as exc:
                error = exc.response.get("Error", {}).get("Code", "")
                if error != "TransactionCanceledException":
                    if error in _RETRIED:
                        _pause(attempt)
                        continue
                    raise _unavailable(exc) from exc
                reasons = [
                    reason.get("Code", "None")
                    for reason in exc.response.get("CancellationReasons", [])
                ]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if not reasons or any(code in _RETRIED for code in reasons):
                    _pause(attempt)
                    continue
                raise _unavailable(exc) from exc
            except BotoCoreError as exc:
                raise _unavailable(exc) from exc
        raise ServiceUnavailable(
            "counters not stored: DynamoDB kept refusing the transaction", dependency="dynamodb"
        )

    def note_last_seen(self, last: Mapping[tuple[str, str], datetime]) -> None:
        """Move each (environment, flag)'s last evaluated hour forward to the one given,
        where it is later than what is stored."""
        for (environment, flag), hour in sorted(last.items()):
            value = hour.strftime(HOUR_FORMAT)
            try:
                self._call(
                    "update_item",
                    TableName=self._table,
                    Key={"pk": {"S": f"L#{environment}"}, "sk": {"S": flag}},
                    UpdateExpression="SET #l = :l",
                    ConditionExpression="attribute_not_exists(#l) OR #l < :l",
                    ExpressionAttributeNames={"#l": "last"},
                    ExpressionAttributeValues={":l": {"S": value}},
                )
            except _Stale:
                continue

    # -- reads -----------------------------------------------------------------------

    def flag_hours(
        self, environment: str, flag: str, first: datetime, last: datetime
    ) -> Iterator[tuple[datetime, bool, str | None, int]]:
        """(hour, result, variant, count) of the flag for every hour from `first` to
        `last` included."""
        for item in self._query(
            f"F#{environment}#{flag}",
            f"H#{first.strftime(HOUR_FORMAT)}#",
            f"H#{last.strftime(HOUR_FORMAT)}$",
        ):
            _, hour, result, variant = item["sk"]["S"].split("#", 3)
            yield _hour(hour), result == "1", variant or None, int(item["n"]["N"])

    def environment_counts(
        self, environment: str, kind: str, first: str, last: str
    ) -> Iterator[tuple[str, int]]:
        """(flag, count) for every hour (`kind` H) or day (D) from `first` to `last`
        included, as their keys write them."""
        for item in self._query(f"E#{environment}", f"{kind}#{first}#", f"{kind}#{last}$"):
            yield item["sk"]["S"].split("#", 2)[2], int(item["n"]["N"])

    def last_seen(self, environment: str) -> dict[str, datetime]:
        return {
            item["sk"]["S"]: _hour(item["last"]["S"])
            for item in self._query(f"L#{environment}", None, None)
        }

    def _query(self, pk: str, low: str | None, high: str | None) -> Iterator[dict[str, Any]]:
        condition = "pk = :pk" + ("" if low is None else " AND sk BETWEEN :low AND :high")
        values: dict[str, Any] = {":pk": {"S": pk}}
        if low is not None and high is not None:
            values |= {":low": {"S": low}, ":high": {"S": high}}
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            page = self._call("query", **arguments)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client, operation)(**arguments)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise _Stale from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc


class _Stale(Exception):
    """A conditional update found a value at least as new."""


def _unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the analytics counters are unavailable: {exc.__class__.__name__}",
        dependency="dynamodb",
    )


def _pause(attempt: int) -> None:
    """Back off, with jitter, so that transactions that conflicted do not meet again."""
    time.sleep(random.uniform(0, min(0.025 * 2**attempt, 1.0)))


def _expiry(sk: str) -> int:
    """A counter expires `COUNTS_RETENTION_DAYS` after its hour or day."""
    moment = sk.split("#", 2)[1]
    start = _hour(moment) if "T" in moment else datetime.strptime(moment, DAY_FORMAT)
    return int(start.replace(tzinfo=UTC).timestamp()) + COUNTS_RETENTION_DAYS * 86_400


def _hour(text: str) -> datetime:
    return datetime.strptime(text, HOUR_FORMAT).replace(tzinfo=UTC)
