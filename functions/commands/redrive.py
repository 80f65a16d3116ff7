"""`python -m functions.commands.redrive`: move the evaluation events' dead-letter queue
back to its queue, once what made analytics refuse them is fixed (an outage longer than
the 25 minutes of receives, a bug). Analytics stores and counts each pack once, so a
message moved twice, or one that was stored after all, costs nothing.

The queue is AWS_SQS_URL (or --queue-url); its dead-letter queue is the one its redrive
policy names. On AWS the move is SQS's own message move task; with AWS_ENDPOINT_URL set
(an emulator: moto has no move task) or with --seal-unsigned, each message is received,
sent to the queue, then deleted.

--seal-unsigned: analytics reads only packs signed with EVENTS_SIGNING_SECRET, so the
seed's bare events and plain packs from producers older than the signature end in the
dead-letter queue. With this option (and EVENTS_SIGNING_SECRET set) they are sealed as
signed packs on the way back: you vouch for them, so use it only for messages you know
came from your own evaluation (after an upgrade, during the switch). Each keeps its
event ids (or the ids derived from the event's content) and gets a pack id derived from
the message, so sealing one twice stores and counts it once. Unreadable messages stay.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from functions.core.events.packs import MAX_EVENTS, is_compressed, seal
from functions.core.events.schema import InvalidEventBody, parse_body
from functions.core.keys.signing import Signer

_NAMESPACE = uuid.UUID("0b7c5b1e-6d0e-4b7a-9d55-3f2d3c1a8e42")
_HIDDEN_SECONDS = 300
"""A message being moved, or left behind, stays hidden for the rest of the run."""


@dataclass
class Moved:
    moved: int = 0
    sealed: int = 0
    left: int = 0
    method: str = "copy"


def dead_letter_queue(sqs: Any, queue_url: str) -> tuple[str, str, str]:
    """(queue ARN, dead-letter queue ARN, dead-letter queue URL) from the redrive policy."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"]
    )["Attributes"]
    if "RedrivePolicy" not in attributes:
        raise SystemExit(f"redrive: {queue_url} has no redrive policy, so no dead-letter queue")
    dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    account, name = dlq_arn.split(":")[4], dlq_arn.split(":")[5]
    dlq_url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return attributes["QueueArn"], dlq_arn, dlq_url


def redrive(sqs: Any, queue_url: str, *, use_task: bool, signer: Signer | None = None) -> Moved:
    """Move the dead-letter queue of `queue_url` back to it; `signer`: seal the unsigned."""
    queue_arn, dlq_arn, dlq_url = dead_letter_queue(sqs, queue_url)
    if use_task and signer is None:
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
        return Moved(method="task")
    return _copy(sqs, dlq_url, queue_url, signer)


def _copy(sqs: Any, dlq_url: str, queue_url: str, signer: Signer | None) -> Moved:
    result = Moved()
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=_HIDDEN_SECONDS,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return result
        for message in messages:
            bodies = _bodies(message, signer)
            if bodies is None:
                result.left += 1
                continue
            for body in bodies:
                extra = {}
                if message.get("MessageAttributes"):
                    extra["MessageAttributes"] = message["MessageAttributes"]
                sqs.send_message(QueueUrl=queue_url, MessageBody=body, **extra)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            result.moved += 1
            result.sealed += bodies != [message["Body"]]


def _bodies(message: dict[str, Any], signer: Signer | None) -> list[str] | None:
    """What to send back for one message: itself, or (sealing) its events as signed
    packs; None to leave it where it is (unreadable, when sealing)."""
    body: str = message["Body"]
    if signer is None:
        return [body]
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and is_compressed(document):
        return [body]
    try:
        parsed = parse_body(body)
    except InvalidEventBody:
        return None
    pack_id = parsed.pack_id or f"sealed-{uuid.uuid5(_NAMESPACE, body)}"
    events = [event.model_dump_json(exclude_none=True) for event in parsed.events]
    chunks = [events[start : start + MAX_EVENTS] for start in range(0, len(events), MAX_EVENTS)]
    return [
        seal(pack_id if len(chunks) == 1 else f"{pack_id}#{index}", chunk, signer)
        for index, chunk in enumerate(chunks)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.redrive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queue-url", default=os.environ.get("AWS_SQS_URL"))
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or None)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or "us-east-1")
    parser.add_argument("--seal-unsigned", action="store_true")
    args = parser.parse_args(argv)
    if not args.queue_url:
        print("redrive: set AWS_SQS_URL or --queue-url", file=sys.stderr)
        return 2
    signer = None
    if args.seal_unsigned:
        secret = os.environ.get("EVENTS_SIGNING_SECRET", "")
        if len(secret) < 32:
            print("redrive: --seal-unsigned needs EVENTS_SIGNING_SECRET", file=sys.stderr)
            return 2
        signer = Signer(secret)
    sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.endpoint_url)
    result = redrive(sqs, args.queue_url, use_task=args.endpoint_url is None, signer=signer)
    if result.method == "task":
        print("redrive: SQS is moving the dead-letter queue back (a message move task)")
    else:
        print(
            f"redrive: {result.moved} messages moved back ({result.sealed} sealed),"
            f" {result.left} unreadable left in the dead-letter queue"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
