"""Local stand-in for Knative's SQS ``IntegrationSource`` (DESIGN.md §6).

Long-polls an SQS queue and POSTs every message to a URL as a binary-mode CloudEvent
(``ce-type: dev.knative.eventing.aws-sqs``, the raw SQS body as data), as the source
does:

- a message is deleted only after a 2xx answer; otherwise it is left alone, and SQS
  delivers it again when the queue's visibility timeout ends, and moves it to the
  dead-letter queue at the receive after ``maxReceiveCount`` (the queue's own numbers:
  the forwarder never shortens a visibility, so an outage burns receives no faster than
  under the source);
- ``pollers`` threads each receive up to 10 messages and deliver them side by side, so
  one slow or poison message never holds the others back;
- a delete SQS did not take is retried; one that still fails leaves the message to be
  delivered again, which analytics absorbs (it stores and counts a pack once).

    python -m functions.devstack.forwarder --queue-url URL --target http://127.0.0.1:8005/
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from requests.adapters import HTTPAdapter

from functions.devstack.aws import client

logger = logging.getLogger(__name__)

CE_TYPE = "dev.knative.eventing.aws-sqs"
CE_SOURCE = "dev.knative.eventing.aws-sqs-source"
MAX_WAIT_SECONDS = 20
MAX_MESSAGES = 10
POLLERS = 2
DELETE_ATTEMPTS = 5


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
        http_timeout: float = 60.0,
        pollers: int = POLLERS,
    ) -> None:
        self.queue_url = queue_url
        self.target_url = target_url
        self.wait_seconds = max(0, min(wait_seconds, MAX_WAIT_SECONDS))
        self.max_messages = max(1, min(max_messages, MAX_MESSAGES))
        self.http_timeout = http_timeout
        self.pollers = max(1, pollers)
        self._sqs = client("sqs", endpoint_url=endpoint_url, region=region)
        self._http = requests.Session()
        connections = self.pollers * self.max_messages
        self._http.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=connections))
        self._http.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=connections))
        self._deliveries = ThreadPoolExecutor(connections, thread_name_prefix="forwarder")

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set (within one long poll), with ``pollers`` threads."""
        logger.info("forwarding %s to %s", self.queue_url, self.target_url)
        threads = [
            threading.Thread(target=self._poll, args=(stop,), name=f"poller-{n}", daemon=True)
            for n in range(self.pollers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._deliveries.shutdown(wait=True)
        logger.info("forwarder stopped")

    def _poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.forward_once()
            except Exception:
                logger.exception("receiving from %s failed; retrying in 1 s", self.queue_url)
                stop.wait(1.0)

    def forward_once(self) -> int:
        """One long poll; deliver what it returns side by side, then delete what was
        stored. The number of messages delivered (and deleted)."""
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.max_messages,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        answers = list(self._deliveries.map(self._deliver, messages))
        delivered = [message for message, stored in zip(messages, answers, strict=True) if stored]
        if delivered:
            self._delete(delivered)
        return len(delivered)

    def _deliver(self, message: dict[str, Any]) -> bool:
        headers, data = to_cloudevent(str(message["Body"]).encode())
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        try:
            answer = self._http.post(
                self.target_url, headers=headers, data=data, timeout=self.http_timeout
            )
        except requests.RequestException as exc:
            logger.warning(
                "message %s (receive %s) not delivered (%s); SQS will deliver it again",
                message["MessageId"],
                receives,
                exc,
            )
            return False
        if not 200 <= answer.status_code < 300:
            logger.warning(
                "message %s (receive %s) refused with %d: %s; SQS will deliver it again",
                message["MessageId"],
                receives,
                answer.status_code,
                answer.text[:200],
            )
            return False
        return True

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        """Delete the stored messages, retrying those SQS did not delete."""
        pending = {str(index): message for index, message in enumerate(messages)}
        for attempt in range(DELETE_ATTEMPTS):
            try:
                answer = self._sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": key, "ReceiptHandle": message["ReceiptHandle"]}
                        for key, message in pending.items()
                    ],
                )
            except Exception as exc:
                logger.warning("deleting %d messages failed (%s)", len(pending), exc)
            else:
                failed = {entry["Id"] for entry in answer.get("Failed", [])}
                pending = {key: message for key, message in pending.items() if key in failed}
            if not pending:
                return
            time.sleep(min(0.1 * 2**attempt, 2.0))
        logger.error(
            "%d stored messages could not be deleted; SQS will deliver them again and"
            " analytics will find them stored",
            len(pending),
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m functions.devstack.forwarder")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--target", required=True, help="URL to POST CloudEvents to")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--wait-seconds", type=int, default=MAX_WAIT_SECONDS)
    parser.add_argument("--pollers", type=int, default=POLLERS)
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
        pollers=args.pollers,
    ).run(stop)


if __name__ == "__main__":
    main()
