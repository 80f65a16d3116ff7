"""Bodies of the analytics function: what a delivery is answered, and the queries'
answers (counts by variant and result, per hour or day, and flags' activity)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core.models.common import ResponseBody

Granularity = Literal["hour", "day"]


class Receipt(ResponseBody):
    """What analytics answers a delivery: a 2xx means stored, and the source deletes it."""

    stored: int = Field(description="events counted (and kept raw, as RAW_EVENTS says)")
    refused: int = Field(description="events of the pack that could not be read")
    pack_id: str | None = Field(description="the pack's id")
    raw_written: int = Field(default=0, description="raw items written now (new, and sampled in)")
    duplicate: bool = Field(
        default=False,
        description="true: the pack was already stored and counted; nothing was written",
    )


class StructuredCloudEvent(BaseModel):
    """A delivery in structured mode (`application/cloudevents+json`): the CloudEvent's
    attributes beside its data. Binary mode sends the attributes as `ce-*` headers and
    the data as the body. The cloudevents library reads both; this describes them."""

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, description="the delivery's id (Knative: a Camel exchange id)")
    source: str = Field(min_length=1)
    type: str = Field(
        min_length=1, description="Knative's SQS source: dev.knative.eventing.aws-sqs"
    )
    datacontenttype: str | None = None
    data: Any = Field(description="the SQS message body: a signed event pack")


class DeliveryHeaders(BaseModel):
    """The CloudEvent attributes of a binary-mode delivery, as HTTP headers."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    ce_specversion: Literal["1.0"] = Field(alias="ce-specversion")
    ce_type: Literal["dev.knative.eventing.aws-sqs"] = Field(alias="ce-type")
    ce_source: str = Field(alias="ce-source", min_length=1)
    ce_id: str = Field(
        alias="ce-id", min_length=1, description="the delivery's id, not the SQS message id"
    )
    content_type: str | None = Field(None, alias="content-type")


class BinaryDelivery(BaseModel):
    """One POST of the Knative SQS source (`IntegrationSource`) or the `make dev`
    forwarder to analytics' `/`: its headers, and the SQS message body as the body."""

    headers: DeliveryHeaders
    body: str = Field(description="the raw SQS message body: a signed pack")


class OutcomeCount(ResponseBody):
    """How many evaluations gave one outcome: a variant (null for events without one,
    such as the seed's) and the boolean result."""

    variant: str | None
    result: bool
    count: int


class Bucket(ResponseBody):
    start: datetime = Field(description="the hour's or day's start (UTC)")
    total: int
    counts: list[OutcomeCount]


class FlagSeries(ResponseBody):
    """`GET /analytics/flags/<name>`: who got what, hour by hour or day by day."""

    flag: str
    environment: str
    from_: datetime = Field(
        alias="from", description="the window's start, rounded down to its hour"
    )
    to: datetime = Field(description="the window's end (excluded), rounded up to its hour")
    granularity: Granularity
    total: int = Field(description="evaluations in the window")
    totals: list[OutcomeCount] = Field(description="evaluations in the window by outcome")
    series: list[Bucket] = Field(description="the hours or days with evaluations, in order")


class FlagActivityItem(ResponseBody):
    flag: str
    evaluations: int = Field(description="evaluations in the window")
    last_evaluated: datetime | None = Field(
        description="the start of the last hour the flag was evaluated in (any time); null: never"
    )
    created_at: datetime | None = Field(
        default=None, description="when the flag was defined (unused_days answers only)"
    )


class FlagActivity(ResponseBody):
    """`GET /analytics/flags`: the flags evaluated in the window with their counts, or
    with `unused_days`, the flags defined (not archived) for at least that many days and
    not evaluated in them."""

    environment: str
    from_: datetime = Field(alias="from")
    to: datetime
    unused_days: int | None = Field(description="null: this lists evaluated flags")
    flags: list[FlagActivityItem]
