"""The samples in `events/` are what their JSON Schemas describe and what analytics reads:
the bodies (signed pack, plain pack, the seed's bare event) and the deliveries (Knative's
IntegrationSource, the `make dev` forwarder)."""

from __future__ import annotations

import json
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
