"""Events buffered when evaluation is told to stop are sent before it exits
(DESIGN.md §4: flushed at least every second, and again on SIGTERM), through the
server's main process (`events.relay`), which outlives its workers' last flush."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import boto3
import pytest
import requests

from functions.devstack.stack import TABLE_NAME, DevStack

pytestmark = pytest.mark.e2e

StackStarter = Callable[[dict[str, str]], AbstractContextManager[DevStack]]


def test_evaluation__sigterm_before_the_flush_interval__buffered_events_delivered(
    start_stack: StackStarter,
) -> None:
    # Given a stack whose evaluation flushes events only every 10 s
    with start_stack({"EVENT_FLUSH_SECONDS": "10"}) as stack:
        key = stack.new_key("t")
        headers = {"Authorization": f"Bearer {key}"}
        assert (
            requests.post(
                f"{stack.url_of('flags')}/flags",
                headers=headers,
                timeout=10,
                json={"name": "shutdown", "is_enabled": True},
            ).status_code
            == 201
        )
        stack.settle()  # every worker knows the flag (an unknown flag emits no event)
        for i in range(20):
            answer = requests.get(
                f"{stack.url_of('evaluation')}/evaluate",
                headers=headers,
                params={"user_id": f"u{i}", "flag_name": "shutdown"},
                timeout=10,
            )
            assert answer.status_code == 200
        # (which the workers hand to the server's main process to send)
        status = requests.get(f"{stack.url_of('evaluation')}/status", timeout=10).json()
        assert status["events"]["via"] == "relay"
        # When evaluation gets SIGTERM at once, well within the interval
        stack.stop_function("evaluation")
        # Then all 20 events still reach DynamoDB
        table = boto3.resource(
            "dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.region
        ).Table(TABLE_NAME)
        deadline, stored = time.monotonic() + 15, 0
        while time.monotonic() < deadline:
            stored = table.scan(Select="COUNT")["Count"]
            if stored >= 20:
                break
            time.sleep(0.5)
        assert stored == 20
