"""`python -m functions.commands.analytics_tables`: create analytics' two DynamoDB tables
(raw events and counters) with their keys, on-demand billing and TTL, as
`stores.analytics_tables` defines them. Idempotent: a table that exists is left as it is
(its TTL turned on if it was off).

Names come from AWS_DYNAMODB_TABLE and AWS_DYNAMODB_COUNTS_TABLE (defaults:
ToggleMasterAnalytics, ToggleMasterAnalyticsCounts), the endpoint from AWS_ENDPOINT_URL
(unset: AWS itself), the region from AWS_REGION.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.core.stores.analytics_tables import COUNTS_TABLE, RAW_TABLE, ensure_tables


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.analytics_tables",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--table", default=os.environ.get("AWS_DYNAMODB_TABLE") or RAW_TABLE)
    parser.add_argument(
        "--counts-table", default=os.environ.get("AWS_DYNAMODB_COUNTS_TABLE") or COUNTS_TABLE
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or None)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or "us-east-1")
    args = parser.parse_args(argv)
    client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    try:
        created = ensure_tables(client, {RAW_TABLE: args.table, COUNTS_TABLE: args.counts_table})
    except (BotoCoreError, ClientError) as exc:
        print(f"analytics_tables: {exc}", file=sys.stderr)
        return 1
    for name, new in created.items():
        print(f"{name}: {'created' if new else 'exists'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
