"""The samples in `events/` are what their JSON Schemas describe and what analytics reads:
the bodies (signed packs of rows and of events, plain pack, the seed's bare event), the
rows payload, and the deliveries (Knative's IntegrationSource, the `make dev` forwarder)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import jsonschema_rs
import pytest

from functions.core.events.schema import parse_body
from functions.core.keys.signing import Signer
from functions.core.models.analytics import BinaryDelivery
from functions.devstack.forwarder import CE_SOURCE, CE_TYPE, to_cloudevent

EVENTS = Path(__file__).resolve().parents[4] / "events"
EXAMPLE_SECRET = "example-events-signing-secret-not-for-use-0123456789"
"""The secret the samples are sealed with (events/README.md): an example, never for use."""
SCHEMA_OF = {
    "signed-pack.json": "signed-pack.schema.json",
    "rows-pack.json": "signed-pack.schema.json",
    "payloads/rows.json": "rows-payload.schema.json",
    "pack.json": "event-pack.schema.json",
    "seed-event.json": "evaluation-event.schema.json",
    "deliveries/forwarder.json": "delivery.schema.json",
    "deliveries/knative-integration-source.json": "delivery.schema.json",
}


def _schema(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads((EVENTS / name).read_text()))


@pytest.mark.parametrize(("sample", "schema"), sorted(SCHEMA_OF.items()))
def test_sample__its_json_schema__valid(sample: str, schema: str) -> None:
    # Given / When / Then
    errors = list(
        _schema(schema).iter_errors(json.loads((EVENTS / "samples" / sample).read_text()))
    )
    assert errors == []


def test_samples__every_file__has_a_schema() -> None:
    # Given / When / Then no sample goes unchecked
    found = {str(p.relative_to(EVENTS / "samples")) for p in (EVENTS / "samples").rglob("*.json")}
    assert found == set(SCHEMA_OF)


def test_signed_pack_sample__example_secret__opens_with_the_plain_pack_events() -> None:
    # Given the signed sample and the plain one it was sealed from
    signed = (EVENTS / "samples" / "signed-pack.json").read_text()
    plain = parse_body((EVENTS / "samples" / "pack.json").read_text())
    # When analytics opens it with the example secret
    opened = parse_body(signed, signer=Signer(EXAMPLE_SECRET))
    # Then it is verified and holds the same events
    assert opened.signed
    assert opened.events == plain.events


def test_rows_pack_sample__example_secret__inflates_to_the_rows_sample_read_as_events() -> None:
    # Given the signed rows sample and the payload sample it was sealed from
    signed = (EVENTS / "samples" / "rows-pack.json").read_text()
    payload = json.loads((EVENTS / "samples" / "payloads" / "rows.json").read_text())
    # When its payload is inflated, and analytics opens it with the example secret
    inflated = json.loads(zlib.decompress(base64.b64decode(json.loads(signed)["events_zlib"])))
    opened = parse_body(signed, signer=Signer(EXAMPLE_SECRET))
    # Then the payload is the sample, and each row the event format 1 would carry
    assert inflated == payload
    assert opened.signed and opened.refused == []
    assert [e.model_dump(exclude_none=True) for e in opened.events] == [
        {
            "event_id": "4c8e3f0e-8a55-4d4e-9d0c-000000000001",
            "user_id": "user-1",
            "flag_name": "checkout_v2",
            "result": True,
            "timestamp": "2026-11-24T10:00:00.120Z",
            "environment": "production",
            "variant": "on",
            "reason": "TARGETING_MATCH",
            "request_id": "7d0f6c1e2b8a4e33",
        },
        {
            "event_id": "4c8e3f0e-8a55-4d4e-9d0c-000000000002",
            "user_id": "user-2",
            "flag_name": "checkout_v2",
            "result": False,
            "timestamp": "2026-11-24T10:00:00.480Z",
            "environment": "production",
            "variant": "off",
            "reason": "DEFAULT",
        },
        {
            "event_id": "4c8e3f0e-8a55-4d4e-9d0c-000000000003",
            "user_id": "ünï-3",
            "flag_name": "dark_mode",
            "result": False,
            "timestamp": "2026-11-24T10:00:01.051Z",
            "reason": "DISABLED",
        },
    ]


@pytest.mark.parametrize("name", ["forwarder.json", "knative-integration-source.json"])
def test_delivery_samples__headers__what_the_source_sends_and_body_a_signed_pack(name: str) -> None:
    # Given a delivery sample, and what the forwarder makes of its body
    delivery = BinaryDelivery.model_validate_json(
        (EVENTS / "samples" / "deliveries" / name).read_text()
    )
    headers, body = to_cloudevent(delivery.body.encode())
    # When / Then the same CloudEvent attributes, and a body analytics accepts
    assert delivery.headers.ce_type == CE_TYPE == headers["ce-type"]
    assert delivery.headers.ce_source == CE_SOURCE == headers["ce-source"]
    assert body.decode() == delivery.body
    assert parse_body(delivery.body, signer=Signer(EXAMPLE_SECRET)).signed
