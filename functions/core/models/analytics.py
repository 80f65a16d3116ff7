"""Bodies of the analytics function."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from functions.core.models.common import ResponseBody


class Receipt(ResponseBody):
    """What analytics answers a delivery: a 2xx means stored, and the source deletes it."""

    stored: int = Field(description="events written (or rewritten, on a redelivery)")
    refused: int = Field(description="events of the pack that could not be read")
    pack_id: str | None = Field(description="null for the seed's single-event body")


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
    data: Any = Field(description="the SQS message body: an event pack, or one bare event")
