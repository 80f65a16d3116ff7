"""The two DynamoDB tables analytics owns, defined once: `make dev`, the
`python -m functions.commands.analytics_tables` command and the deploy's CloudFormation
template (compared by a test) all create exactly these.

- `ToggleMasterAnalytics` (`AWS_DYNAMODB_TABLE`): one raw item per event, keyed by
  `event_id` as the seed's table was; removed by TTL after `RAW_EVENTS_RETENTION_DAYS`.
- `ToggleMasterAnalyticsCounts` (`AWS_DYNAMODB_COUNTS_TABLE`): the counters, the pack
  markers that make them exactly-once, and each flag's last evaluation; `pk`/`sk` hold
  what `stores.analytics_counts` writes.

Both are on-demand (billed per write, nothing provisioned to size) with TTL on
`expires_at`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

RAW_TABLE = "ToggleMasterAnalytics"
COUNTS_TABLE = "ToggleMasterAnalyticsCounts"
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True, slots=True)
class TableDefinition:
    create_table: Mapping[str, Any]
    """CreateTable's arguments, all but `TableName`."""
    ttl_attribute: str
    setting: str
    """The variable that names the table in a deployment."""

    def arguments(self, name: str) -> dict[str, Any]:
        return {"TableName": name, **self.create_table}


TABLES: Mapping[str, TableDefinition] = {
    RAW_TABLE: TableDefinition(
        create_table={
            "AttributeDefinitions": [{"AttributeName": "event_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
        ttl_attribute=TTL_ATTRIBUTE,
        setting="AWS_DYNAMODB_TABLE",
    ),
    COUNTS_TABLE: TableDefinition(
        create_table={
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        ttl_attribute=TTL_ATTRIBUTE,
        setting="AWS_DYNAMODB_COUNTS_TABLE",
    ),
}


def ensure_table(client: Any, definition: TableDefinition, name: str) -> bool:
    """Create table `name` as `definition` says, wait until it is active and turn its TTL
    on; True when it was created, False when it existed (running again changes nothing)."""
    created = True
    try:
        client.create_table(**definition.arguments(name))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        created = False
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        _enable_ttl(client, name, definition.ttl_attribute)
    return created


def _enable_ttl(client: Any, name: str, attribute: str) -> None:
    """DynamoDB refuses a TTL change while the previous one is still being applied (a
    table created a moment ago by someone else): retry for a minute."""
    for attempt in range(30):
        try:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
            )
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException" or attempt == 29:
                raise
            time.sleep(2)


def ensure_tables(client: Any, names: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Both tables, under the names `names` gives (default name → name used); by name
    used, whether it was created now."""
    chosen = {**{default: default for default in TABLES}, **(names or {})}
    return {
        chosen[default]: ensure_table(client, definition, chosen[default])
        for default, definition in TABLES.items()
    }
