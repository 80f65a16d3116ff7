"""One request's `X-Request-Id`, followed: on the line of the function it reached (a
refused key's line included), on auth's line for the call that function made to it, on
the event its decision emitted (stored by analytics); and no key material on any line of
any log."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Attr

from functions.devstack.processes import ChildProcess, free_port, tail, wait_until
from functions.devstack.stack import TABLE_NAME, DevStack, function_command
from tests.e2e.polling import eventually

pytestmark = pytest.mark.e2e


def _lines(path: Path) -> list[dict[str, object]]:
    """The JSON lines of a function's log (the server's own plain lines left out)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def _carrying(path: Path, request_id: str) -> list[dict[str, object]]:
    return [
        line
        for line in _lines(path)
        if request_id in (line.get("correlation_id"), line.get("slowest_request_id"))
    ]


def test_request_id__flags_asking_auth__on_the_flags_line_and_auth_line_of_that_call(
    stack: DevStack, api_key: str
) -> None:
    # Given an environment (deleting one makes flags ask auth how many keys it binds,
    # with the caller's key: flags and targeting check keys themselves, never asking
    # auth) and the caller's request id
    environment = f"rid{uuid.uuid4().hex[:10]}"
    headers = {"Authorization": f"Bearer {api_key}"}
    flags = stack.url_of("flags")
    created = requests.post(
        f"{flags}/environments", json={"key": environment}, headers=headers, timeout=10
    )
    assert created.status_code == 201
    request_id = f"trace-{uuid.uuid4().hex}"
    # When it is deleted with the request id
    answer = requests.delete(
        f"{flags}/environments/{environment}",
        headers={**headers, "X-Request-Id": request_id},
        timeout=10,
    )
    # Then the answer carries the id back; flags' line and auth's line for the call
    # flags made carry it too
    assert answer.status_code == 204
    assert answer.headers["X-Request-Id"] == request_id
    flags_lines = eventually(
        lambda: _carrying(stack.logs_dir / "flags.log", request_id), bool, "flags' line"
    )
    assert [line["path"] for line in flags_lines] == [f"/environments/{environment}"]
    auth_lines = eventually(
        lambda: _carrying(stack.logs_dir / "auth.log", request_id), bool, "auth's line"
    )
    assert [line["path"] for line in auth_lines] == [f"/environments/{environment}/keys"]


def test_request_id__refused_key__on_the_key_checks_line(stack: DevStack) -> None:
    # Given a key no one issued, and the caller's request id
    forged = "tm_key_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
    request_id = f"trace-{uuid.uuid4().hex}"
    # When targeting is asked with both
    answer = requests.get(
        f"{stack.url_of('targeting')}/segments",
        headers={"Authorization": f"Bearer {forged}", "X-Request-Id": request_id},
        timeout=10,
    )
    # Then the key check's refusal is logged under the id
    assert answer.status_code == 401
    lines = eventually(
        lambda: _carrying(stack.logs_dir / "targeting.log", request_id), bool, "the line"
    )
    assert [(line["path"], line["status"]) for line in lines] == [("/segments", 401)]


@pytest.fixture
def own_evaluation(stack: DevStack, tmp_path: Path) -> Iterator[tuple[str, ChildProcess]]:
    """An evaluation server of the stack's, answering only this test's requests (its
    log's summary line then names the one request in it)."""
    port = free_port()
    process = ChildProcess(
        "evaluation-request-id",
        function_command("evaluation", port, stack.functions_source),
        log_path=tmp_path / "evaluation.log",
        env={**stack.function_env("evaluation"), "WORKERS": "1"},
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: requests.get(f"{url}/ready", timeout=2).ok,
            timeout=30,
            what="evaluation",
            alive=process.is_running,
        )
    except Exception as exc:
        process.stop()
        raise AssertionError(f"{exc}\n{tail(process.log_path)}") from None
    yield url, process
    process.stop()


def test_request_id__evaluation__on_its_line_and_on_the_event_analytics_stored(
    stack: DevStack, api_key: str, own_evaluation: tuple[str, ChildProcess]
) -> None:
    # Given a flag (an unknown flag emits no event) and a request id
    url, process = own_evaluation
    flag = f"rid-{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {api_key}"}
    created = requests.post(
        f"{stack.url_of('flags')}/flags",
        json={"name": flag, "is_enabled": True},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201
    request_id = f"trace-{uuid.uuid4().hex}"
    # When the flag is evaluated with it (once the server holds the flag)
    answer = eventually(
        lambda: requests.get(
            f"{url}/evaluate",
            params={"user_id": "u-1", "flag_name": flag},
            headers={**headers, "X-Request-Id": request_id},
            timeout=5,
        ),
        lambda response: response.json().get("reason") != "FLAG_NOT_FOUND",
        "the flag reaching the new server",
    )
    assert answer.headers["X-Request-Id"] == request_id
    # and the server is stopped, which writes its summary line and sends its events
    process.stop()
    # Then the summary line of evaluation's successes names it (its only such request)
    lines = [
        line for line in _carrying(process.log_path, request_id) if line.get("path") == "/evaluate"
    ]
    assert lines, tail(process.log_path)
    # And the event its decision emitted carries it, as analytics stored it
    aws = boto3.Session(
        region_name=stack.region,
        aws_access_key_id=stack.env_values()["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env_values()["AWS_SECRET_ACCESS_KEY"],
    )
    table = aws.resource("dynamodb", endpoint_url=stack.aws_endpoint_url).Table(TABLE_NAME)
    sqs = aws.client("sqs", endpoint_url=stack.aws_endpoint_url)

    def backlog(items: object) -> str:
        """What analytics had left to store, and what it logged last."""
        counts = sqs.get_queue_attributes(
            QueueUrl=stack.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return f"{items}; queue {counts}; analytics: {tail(stack.logs_dir / 'analytics.log', 8)}"

    # (the shared stack's analytics may still be storing the events of earlier tests)
    def stored() -> list[dict[str, object]]:
        """Every page: the shared table holds the earlier tests' events, and one scan
        page (1 MB read) may not reach this one."""
        found, page = [], {"FilterExpression": Attr("request_id").eq(request_id)}
        while True:
            answer = table.scan(**page)
            found += answer["Items"]
            if "LastEvaluatedKey" not in answer:
                return found
            page["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    items = eventually(
        stored,
        bool,
        "the stored event",
        describe=backlog,
        timeout=60,
    )
    assert [(item["flag_name"], item["user_id"]) for item in items] == [(flag, "u-1")]


def test_logs__requests_with_valid_invalid_and_master_keys__no_key_material_on_any_line(
    stack: DevStack, api_key: str
) -> None:
    # Given keys of every kind: good ones, a forged one, a malformed one, the master key
    good = stack.new_key("log-check", scopes=["read", "write"])
    forged = "tm_key_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
    malformed = "not-a-key-" + uuid.uuid4().hex
    master = stack.master_key
    every = [good, api_key, forged, malformed, master, stack.service_key]
    # When each is sent to every function, where it belongs and where it does not
    calls = [
        ("auth", "GET", "/validate", None),
        ("auth", "GET", "/admin/keys", None),
        ("auth", "POST", "/admin/keys", {"name": "log-check-2"}),
        ("flags", "GET", "/flags", None),
        ("flags", "POST", "/flags", {"name": f"log-{uuid.uuid4().hex[:8]}"}),
        ("targeting", "GET", "/rules/nothing-here", None),
        ("evaluation", "GET", "/evaluate?user_id=u&flag_name=f", None),
        ("evaluation", "POST", "/ofrep/v1/evaluate/flags/f", {"context": {"targetingKey": "u"}}),
    ]
    for key in every:
        for target, method, route, body in calls:
            requests.request(
                method,
                f"{stack.url_of(target)}{route}",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
        requests.get(f"{stack.gateway_url}/flags", headers={"Authorization": key}, timeout=10)
    stack.settle()
    # Then no log of the stack holds a key, the part after its prefix, or its hash
    secrets: dict[str, str] = {}
    for key in every:
        secrets[key] = "the key"
        secrets[key.removeprefix("tm_key_")] = "the key without its prefix"
        secrets[hashlib.sha256(key.encode()).hexdigest()] = "its SHA-256"
    logs = sorted(stack.logs_dir.glob("*.log"))
    assert {path.stem for path in logs} >= {"auth", "flags", "targeting", "evaluation", "analytics"}
    for path in logs:
        text = path.read_text(errors="replace")
        for secret, what in secrets.items():
            assert secret not in text, f"{what} is in {path.name}"
