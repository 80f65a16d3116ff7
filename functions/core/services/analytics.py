"""Analytics: storing what evaluation sent, exactly once in effect, and answering who got
what and which flags nobody evaluates.

Storing one delivery (an SQS message body, a pack signed with `EVENTS_SIGNING_SECRET`):

1. open it: anything not signed by evaluation is refused (403) before it is read, a
   body that cannot be read is refused (400); one line is logged and nothing written,
   so after its receives the queue moves it to the dead-letter queue;
2. if every part of its counters is applied already (a redelivery after success), stop;
3. write the raw items RAW_EVENTS keeps, each on condition it is new;
4. move each flag's last evaluated hour forward (idempotent);
5. apply the counters, each part with its marker (`stores.analytics_counts`).

Each step is safe to repeat, so a delivery that fails anywhere (503, the message comes
back) and is delivered again ends with every event stored once and counted once. Per-event
transactions would give the same at twice the write cost: here a pack of 4 096 events
costs one transaction per 99 counters it touches.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.core.errors import BadRequest, Forbidden, InvalidValue
from functions.core.events.schema import (
    EvaluationEvent,
    InvalidEventBody,
    UnsignedEventBody,
    event_moment,
    parse_body,
)
from functions.core.keys.signing import Signer
from functions.core.models.analytics import (
    Bucket,
    FlagActivity,
    FlagActivityItem,
    FlagSeries,
    Granularity,
    OutcomeCount,
    Receipt,
)
from functions.core.models.flags import Flag
from functions.core.names import is_environment_name
from functions.core.stores.analytics import RawEventStore, to_item
from functions.core.stores.analytics_counts import (
    COUNTS_RETENTION_DAYS,
    DAY_FORMAT,
    HOUR_FORMAT,
    CountsStore,
    Outcome,
    fits,
    increments,
)

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MAX_WINDOW = timedelta(days=COUNTS_RETENTION_DAYS)
DEFAULT_WINDOW = timedelta(days=7)


class ForgedEvents(Forbidden):
    """A delivery that evaluation did not sign: nothing of it is stored."""

    code = "events_not_signed"


@dataclass(frozen=True, slots=True)
class RawPolicy:
    """Which raw events are kept (`RAW_EVENTS`) and for how long."""

    fraction: float
    retention_days: int

    def keeps(self, event_id: str) -> bool:
        """The same answer for an event on every delivery: decided by its id's hash."""
        if self.fraction >= 1:
            return True
        if self.fraction <= 0:
            return False
        digest = hashlib.sha256(event_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") < self.fraction * 2**64


class AnalyticsService:
    def __init__(
        self,
        *,
        raw: RawEventStore,
        counts: CountsStore,
        signer: Signer,
        raw_policy: RawPolicy,
        default_environment: str,
        config_database_url: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._raw = raw
        self._counts = counts
        self._signer = signer
        self._raw_policy = raw_policy
        self._default_environment = default_environment
        self._config_database_url = config_database_url
        self._clock = clock

    # -- storing ---------------------------------------------------------------------

    def receive(self, body: bytes | str, *, delivery_id: str) -> Receipt:
        try:
            parsed = parse_body(body, signer=self._signer)
        except UnsignedEventBody as exc:
            log.error("delivery refused: not signed", extra=_refusal(delivery_id, exc))
            raise ForgedEvents(f"refused, nothing stored: {exc}") from None
        except InvalidEventBody as exc:
            log.error("delivery refused: unreadable", extra=_refusal(delivery_id, exc))
            raise BadRequest(f"not an evaluation event pack: {str(exc)[:500]}") from None
        pack_id = str(parsed.pack_id)
        events, outcomes, refused = self._countable(parsed.events, list(parsed.refused))
        if refused:
            log.error(
                "events refused from a pack; the rest are stored",
                extra={"pack_id": pack_id, "refused": len(refused), "problems": refused[:5]},
            )
        if not events:
            log.error("delivery refused: no countable event", extra={"pack_id": pack_id})
            raise BadRequest("no event of the pack can be counted: " + "; ".join(refused[:5]))
        gains = increments(outcomes)
        if self._counts.is_counted(pack_id, gains):
            log.info("pack already stored", extra={"pack_id": pack_id, "ce_id": delivery_id})
            return Receipt(
                stored=len(events), refused=len(refused), pack_id=pack_id, duplicate=True
            )
        items = [
            to_item(
                event,
                pack_id=pack_id,
                moment=moment,
                retention_days=self._raw_policy.retention_days,
            )
            for event, moment in events
            if self._raw_policy.keeps(str(event.event_id))
        ]
        written = self._raw.put_new(items)
        self._counts.note_last_seen(_latest(outcomes))
        applied = self._counts.apply(pack_id, gains, now=self._clock())
        log.info(
            "pack stored",
            extra={
                "pack_id": pack_id,
                "ce_id": delivery_id,
                "events": len(events),
                "raw_written": written.written,
                "raw_present": written.present,
                "counter_parts": applied.parts,
                "counter_parts_already": applied.already,
            },
        )
        return Receipt(
            stored=len(events), refused=len(refused), pack_id=pack_id, raw_written=written.written
        )

    def _countable(
        self, events: Iterable[EvaluationEvent], refused: list[str]
    ) -> tuple[list[tuple[EvaluationEvent, datetime]], list[Outcome], list[str]]:
        """The pack's events once each (by id), with their outcomes; those that cannot be
        counted join `refused`."""
        unique = {str(event.event_id): event for event in events}
        kept: list[tuple[EvaluationEvent, datetime]] = []
        outcomes: list[Outcome] = []
        for event_id, event in unique.items():
            moment = event_moment(event)
            environment = event.environment or self._default_environment
            if moment is None or not is_environment_name(environment):
                refused.append(f"event {event_id}: environment or timestamp unusable")
                continue
            outcome = Outcome(
                environment=environment,
                flag=event.flag_name,
                hour=moment.replace(minute=0, second=0, microsecond=0),
                result=event.result,
                variant=event.variant,
            )
            if not fits(outcome):
                refused.append(f"event {event_id}: flag or variant too long to count")
                continue
            kept.append((event, moment))
            outcomes.append(outcome)
        return kept, outcomes, refused

    # -- queries ---------------------------------------------------------------------

    def window(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        """The whole hours a query covers: `start` rounded down, `end` (excluded) rounded
        up; by default the last 7 days."""
        end = end or self._clock()
        start = start or end - DEFAULT_WINDOW
        first = _floor_hour(start)
        after = _floor_hour(end) + (HOUR if end != _floor_hour(end) else timedelta())
        if first >= after:
            raise InvalidValue("'from' must be before 'to'", parameter="from")
        if after - first > MAX_WINDOW:
            raise InvalidValue(
                f"the window is longer than the {COUNTS_RETENTION_DAYS} days counters are kept",
                parameter="from",
            )
        return first, after

    def flag_series(
        self,
        flag: str,
        *,
        environment: str,
        start: datetime | None,
        end: datetime | None,
        granularity: Granularity,
    ) -> FlagSeries:
        first, after = self.window(start, end)
        buckets: dict[datetime, dict[tuple[str | None, bool], int]] = defaultdict(dict)
        totals: dict[tuple[str | None, bool], int] = defaultdict(int)
        for hour, result, variant, count in self._counts.flag_hours(
            environment, flag, first, after - HOUR
        ):
            start_of = hour if granularity == "hour" else hour.replace(hour=0)
            bucket = buckets[start_of]
            bucket[(variant, result)] = bucket.get((variant, result), 0) + count
            totals[(variant, result)] += count
        series = [
            Bucket(start=moment, total=sum(counts.values()), counts=_outcomes(counts))
            for moment, counts in sorted(buckets.items())
        ]
        return FlagSeries.model_validate(
            {
                "flag": flag,
                "environment": environment,
                "from": first,
                "to": after,
                "granularity": granularity,
                "total": sum(totals.values()),
                "totals": _outcomes(totals),
                "series": series,
            }
        )

    def activity(
        self, *, environment: str, start: datetime | None, end: datetime | None
    ) -> FlagActivity:
        """Flags evaluated in the window, most evaluated first."""
        first, after = self.window(start, end)
        counts: dict[str, int] = defaultdict(int)
        for kind, low, high in _ranges(first, after):
            for flag, count in self._counts.environment_counts(environment, kind, low, high):
                counts[flag] += count
        last = self._counts.last_seen(environment)
        flags = [
            FlagActivityItem(flag=flag, evaluations=count, last_evaluated=last.get(flag))
            for flag, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        ]
        return FlagActivity.model_validate(
            {
                "environment": environment,
                "from": first,
                "to": after,
                "unused_days": None,
                "flags": flags,
            }
        )

    def unused(self, *, environment: str, days: int) -> FlagActivity:
        """Flags defined (not archived) for at least `days` days and not evaluated in them:
        candidates for removal."""
        now = self._clock()
        since = now - timedelta(days=days)
        last = self._counts.last_seen(environment)
        flags = [
            FlagActivityItem(
                flag=flag.name,
                evaluations=0,
                last_evaluated=last.get(flag.name),
                created_at=flag.created_at,
            )
            for flag in self._defined_flags(environment)
            if flag.created_at <= since
            and (flag.name not in last or last[flag.name] + HOUR <= since)
        ]
        return FlagActivity.model_validate(
            {
                "environment": environment,
                "from": since,
                "to": now,
                "unused_days": days,
                "flags": flags,
            }
        )

    def _defined_flags(self, environment: str) -> list[Flag]:
        if self._config_database_url is None:
            raise InvalidValue("unused_days needs CONFIG_DATABASE_URL", parameter="unused_days")
        from functions.core.adapters.db import transaction  # PostgreSQL: loaded on use
        from functions.core.stores import flags as flag_store

        with transaction(self._config_database_url) as conn:
            conn.execute("SET TRANSACTION READ ONLY")
            return flag_store.list_flags(conn, environment=environment, include_archived=False)

    def close(self) -> None:
        self._raw.close()


def _refusal(delivery_id: str, exc: Exception) -> dict[str, str]:
    return {"ce_id": delivery_id, "problem": str(exc)[:500]}


def _latest(outcomes: Iterable[Outcome]) -> dict[tuple[str, str], datetime]:
    latest: dict[tuple[str, str], datetime] = {}
    for outcome in outcomes:
        key = (outcome.environment, outcome.flag)
        if key not in latest or latest[key] < outcome.hour:
            latest[key] = outcome.hour
    return latest


def _outcomes(counts: dict[tuple[str | None, bool], int]) -> list[OutcomeCount]:
    return [
        OutcomeCount(variant=variant, result=result, count=count)
        for (variant, result), count in sorted(
            counts.items(), key=lambda pair: (pair[0][0] or "", pair[0][1])
        )
    ]


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ranges(first: datetime, after: datetime) -> list[tuple[str, str, str]]:
    """The window [first, after) as key ranges: whole UTC days from the day items, the
    hours before the first whole day and after the last from the hour items."""
    first_day = first.replace(hour=0) + (DAY if first.hour else timedelta())
    after_day = after.replace(hour=0)
    if first_day >= after_day:
        return [("H", first.strftime(HOUR_FORMAT), (after - HOUR).strftime(HOUR_FORMAT))]
    ranges = [("D", first_day.strftime(DAY_FORMAT), (after_day - DAY).strftime(DAY_FORMAT))]
    if first < first_day:
        ranges.append(("H", first.strftime(HOUR_FORMAT), (first_day - HOUR).strftime(HOUR_FORMAT)))
    if after_day < after:
        ranges.append(("H", after_day.strftime(HOUR_FORMAT), (after - HOUR).strftime(HOUR_FORMAT)))
    return ranges
