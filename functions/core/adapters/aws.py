"""boto3 clients, built on first use, one per process.

`AWS_ENDPOINT_URL` (honoured by boto3 itself, and passed explicitly here) points
them at the local emulator in development.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10
)


@functools.cache
def client(service: str, region: str, endpoint_url: str | None) -> Any:
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=_CONFIG
    )
