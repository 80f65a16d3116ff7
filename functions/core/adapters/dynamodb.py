"""The DynamoDB client analytics writes through: one per process, built on first use,
with a connection pool as large as the writes it runs side by side (botocore's default
of 10 would make the extra writers open and drop connections)."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

WRITERS = 16
"""Raw items written side by side: a PutItem is a round trip of a few milliseconds."""


@functools.cache
def dynamodb_client(region: str, endpoint_url: str | None) -> Any:
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=WRITERS + 4,
    )
    return boto3.session.Session().client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
    )
