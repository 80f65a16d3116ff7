"""`make bench`: evaluation over HTTP against the hello function, side by side.

DESIGN.md §5's method: wrk, 1 thread, 32 connections, 8 s per run, medians of three
runs, on the stack `make dev` starts (events flowing to SQS), with a 30 % rule. The
figures are ratios measured in the same run, because the machine is shared.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import requests

from functions.devstack.processes import ChildProcess, free_port, wait_until
from functions.devstack.stack import function_command, private_stack

HELLO = Path(__file__).with_name("hello.py")
RUNS, SECONDS, CONNECTIONS = 3, 8, 32


def wrk(url: str, key: str | None = None) -> tuple[float, float]:
    """(requests per second, p99 in ms) of one wrk run."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url]
    if key:
        command[1:1] = ["-H", f"Authorization: Bearer {key}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p99, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rate, float(p99) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def median_of(url: str, key: str | None = None) -> tuple[float, float]:
    runs = [wrk(url, key) for _ in range(RUNS)]
    return statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs)


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench_evaluate: wrk not found: install it with `apt-get install wrk`")
        return 0
    with private_stack() as stack:
        key = stack.new_key("bench")
        headers = {"Authorization": f"Bearer {key}"}
        requests.post(
            f"{stack.url_of('flags')}/flags",
            headers=headers,
            timeout=10,
            json={"name": "bench_flag", "is_enabled": True},
        ).raise_for_status()
        requests.post(
            f"{stack.url_of('targeting')}/rules",
            headers=headers,
            timeout=10,
            json={"flag_name": "bench_flag", "rules": {"type": "PERCENTAGE", "value": 30}},
        ).raise_for_status()
        hello_port = free_port()
        hello = ChildProcess(
            "hello",
            function_command("hello", hello_port, HELLO),
            log_path=stack.run_dir / "hello.log",
            env={**os.environ, "WORKERS": "1", "THREADS": "8", "PORT": str(hello_port)},
        )
        hello.start()
        try:
            hello_url = f"http://127.0.0.1:{hello_port}/"
            wait_until(lambda: _answers(hello_url), timeout=20, what="hello")
            evaluate_url = f"{stack.url_of('evaluation')}/evaluate?user_id=u-1&flag_name=bench_flag"
            hello_rate, hello_p99 = median_of(hello_url)
            rate, p99 = median_of(evaluate_url, key)
        finally:
            hello.stop()
    print(f"hello (same server command): {hello_rate:8.0f} req/s  p99 {hello_p99:6.1f} ms")
    print(f"evaluate, 30 % rule, events on: {rate:8.0f} req/s  p99 {p99:6.1f} ms")
    print(
        f"evaluate / hello = {rate / hello_rate:.2f}   (wrk -t1 -c{CONNECTIONS} -d{SECONDS}s,"
        f" median of {RUNS})"
    )
    return 0


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


if __name__ == "__main__":
    sys.exit(main())
