"""Local stand-in for Knative's SQS ``IntegrationSource`` (DESIGN.md §6).

Long-polls an SQS queue and POSTs every message to a URL as a binary-mode CloudEvent
(``ce-type: dev.knative.eventing.aws-sqs``, the raw SQS body as data). A message is
deleted only after a 2xx answer; otherwise it stays, and SQS redelivers it when its
visibility timeout ends (and moves it to the dead-letter queue after a few tries).

    python -m functions.devstack.forwarder --queue-url URL --target http://127.0.0.1:8005/
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from functions.devstack.aws import client

logger = logging.getLogger(__name__)

CE_TYPE = "dev.knative.eventing.aws-sqs"
CE_SOURCE = "dev.knative.eventing.aws-sqs-source"
MAX_WAIT_SECONDS = 20
MAX_MESSAGES = 10


def to_cloudevent(body: bytes) -> tuple[dict[str, str], bytes]:
    """Headers and body of the binary-mode CloudEvent carrying one SQS message body."""
    event = CloudEvent(
        {
            "type": CE_TYPE,
            "source": CE_SOURCE,
            "id": str(uuid.uuid4()),
            "datacontenttype": "application/json",
        },
        body,
    )
    headers, data = to_binary(event)
    return dict(headers), bytes(data)


class SqsForwarder:
    """Moves messages from ``queue_url`` to ``target_url``; see the module docstring."""

    def __init__(
        self,
        queue_url: str,
        target_url: str,
        *,
        endpoint_url: str | None,
        region: str,
        wait_seconds: int = MAX_WAIT_SECONDS,
        max_messages: int = MAX_MESSAGES,
        http_timeout: float = 10.0,
    ) -> None:
        self.queue_url = queue_url
        self.target_url = target_url
        self.wait_seconds = max(0, min(wait_seconds, MAX_WAIT_SECONDS))
        self.max_messages = max(1, min(max_messages, MAX_MESSAGES))
        self.http_timeout = http_timeout
        self._sqs = client("sqs", endpoint_url=endpoint_url, region=region)
        self._http = requests.Session()

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set (within one long poll)."""
        logger.info("forwarding %s to %s", self.queue_url, self.target_url)
        while not stop.is_set():
            try:
                self.forward_once()
            except Exception:
                logger.exception("receiving from %s failed; retrying in 1 s", self.queue_url)
                stop.wait(1.0)
        logger.info("forwarder stopped")

    def forward_once(self) -> int:
        """One long poll; deliver what it returns. The number of messages delivered."""
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.max_messages,
            WaitTimeSeconds=self.wait_seconds,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        delivered = [message for message in messages if self._deliver(message)]
        if delivered:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(delivered)
                ],
            )
        return len(delivered)

    def _deliver(self, message: dict[str, Any]) -> bool:
        headers, data = to_cloudevent(str(message["Body"]).encode())
        try:
            answer = self._http.post(
                self.target_url, headers=headers, data=data, timeout=self.http_timeout
            )
        except requests.RequestException as exc:
            logger.warning(
                "message %s not delivered (%s); SQS will redeliver it", message["MessageId"], exc
            )
            return False
        if not 200 <= answer.status_code < 300:
            logger.warning(
                "message %s refused with %d: %s; SQS will redeliver it",
                message["MessageId"],
                answer.status_code,
                answer.text[:200],
            )
            return False
        return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m functions.devstack.forwarder")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--target", required=True, help="URL to POST CloudEvents to")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--wait-seconds", type=int, default=MAX_WAIT_SECONDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    SqsForwarder(
        args.queue_url,
        args.target,
        endpoint_url=args.endpoint_url,
        region=args.region,
        wait_seconds=args.wait_seconds,
    ).run(stop)


if __name__ == "__main__":
    main()
