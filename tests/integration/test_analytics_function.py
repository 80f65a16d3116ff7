"""The analytics function stores events delivered as CloudEvents, once per event_id."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from flask.testing import FlaskClient

from functions.core.events.schema import new_event

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
SQS_SOURCE = {
    "type": "dev.knative.eventing.aws-sqs",
    "source": "dev.knative.eventing.aws-sqs-source",
}


@pytest.fixture
def client(function_client: ClientFactory, moto_endpoint: str, analytics_table: str) -> FlaskClient:
    return function_client(
        "analytics",
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DYNAMODB_TABLE": analytics_table,
        },
    )


@pytest.fixture
def table(moto_endpoint: str, analytics_table: str) -> Any:
    return boto3.resource("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1").Table(
        analytics_table
    )


def _deliver(client: FlaskClient, body: bytes, *, structured: bool = False) -> Any:
    event = CloudEvent({**SQS_SOURCE, "id": str(uuid.uuid4())}, body)
    headers, data = (to_structured if structured else to_binary)(event)
    return client.post("/", headers=headers, data=data)


def _pack(n: int) -> dict[str, object]:
    events = [
        new_event(
            user_id=f"user-{i}",
            flag_name="checkout_v2",
            result=i % 3 == 0,
            environment="production",
            variant="on" if i % 3 == 0 else "off",
            reason="DEFAULT",
        )
        for i in range(n)
    ]
    return {"pack_id": str(uuid.uuid4()), "events": events}


def test_receive__pack_of_60__every_event_stored_with_seed_attributes(
    client: FlaskClient, table: Any
) -> None:
    # Given a pack of 60 events (more than one DynamoDB batch)
    pack = _pack(60)
    # When it is delivered as the SQS source delivers it
    response = _deliver(client, json.dumps(pack).encode())
    # Then all 60 items are there with the seed's attributes and types
    assert response.status_code == 200, response.get_data(as_text=True)
    items = table.scan()["Items"]
    assert len(items) == 60
    first = pack["events"][0]  # type: ignore[index]
    stored = table.get_item(Key={"event_id": first["event_id"]})["Item"]
    assert stored["user_id"] == "user-0"
    assert stored["flag_name"] == "checkout_v2"
    assert stored["result"] is True
    assert stored["timestamp"] == first["timestamp"]
    assert stored["environment"] == "production"
    assert stored["pack_id"] == pack["pack_id"]


def test_receive__same_pack_redelivered__no_duplicate_items(
    client: FlaskClient, table: Any
) -> None:
    # Given a pack delivered once
    body = json.dumps(_pack(5)).encode()
    _deliver(client, body)
    # When SQS redelivers it (a new CloudEvent id, the same body)
    response = _deliver(client, body, structured=True)
    # Then the items are rewritten, not added
    assert response.status_code == 200
    assert table.scan(Select="COUNT")["Count"] == 5


def test_receive__seed_bare_event__stored_with_derived_id(client: FlaskClient, table: Any) -> None:
    # Given the seed's event body, without event_id
    body = {
        "user_id": "user-1",
        "flag_name": "checkout_v2",
        "result": False,
        "timestamp": "2026-11-24T10:00:00Z",
    }
    # When it is delivered twice
    _deliver(client, json.dumps(body).encode())
    _deliver(client, json.dumps(body).encode())
    # Then one item holds it
    items = table.scan()["Items"]
    assert len(items) == 1
    assert items[0]["result"] is False
    assert items[0]["event_id"]


@pytest.mark.parametrize(
    "body", [b"not json", b'{"user_id": 1}', b'{"pack_id": "p", "events": []}']
)
def test_receive__unusable_body__400_and_nothing_stored(
    client: FlaskClient, table: Any, body: bytes
) -> None:
    # Given / When
    response = _deliver(client, body)
    # Then it is refused (the queue will dead-letter it) and nothing is written
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert table.scan(Select="COUNT")["Count"] == 0


def test_receive__not_a_cloud_event__400_json(client: FlaskClient) -> None:
    # Given / When a plain POST without CloudEvent headers
    response = client.post("/", data=b"{}", content_type="application/json")
    # Then
    assert response.status_code == 400
    assert "CloudEvent" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/json"}, b"\xff[\xfe\x01"),
        ({"ce-specversion": "1.0"}, b"\x89not utf-8"),
        ({}, b'{"specversion": {"a": 1}, "id": "1", "source": "s", "type": "t"}'),
        ({}, b'{"specversion": "1.0", "id": "1", "source": "s", "type": null}'),
        ({"ce-specversion": "1.0", "Content-Type": "application/cloudevents+json"}, b"0"),
    ],
    ids=["not utf-8", "binary headers incomplete", "specversion object", "type null", "int"],
)
def test_receive__malformed_cloud_event__400_json(
    client: FlaskClient, table: Any, headers: dict[str, str], body: bytes
) -> None:
    # Given / When a POST the CloudEvents SDK fails on with an error of its own kind
    response = client.post("/", headers=headers, data=body)
    # Then it is refused as not a CloudEvent, not a 500, and nothing is written
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "CloudEvent" in response.get_json()["error"]
    assert table.scan(Select="COUNT")["Count"] == 0


def test_probes__table_exists__ready(client: FlaskClient) -> None:
    # Given / When / Then
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
