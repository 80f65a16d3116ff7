"""Configuration files at scale: ``python tests/bench/bench_config_files.py``.

10 000 flags in the three standard environments (about half on, half with a
rule: percentages, segments, conditions), loaded by one applied import. Then, over
HTTP against the flags function of a private stack (what a client waits for, JSON
both ways): ``GET /export`` of every environment, and ``POST /import?dry_run=true``
of that export. Medians of five runs. Goals on a 2-core machine: export ≤ 2 s,
dry run ≤ 5 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from functions.devstack.stack import private_stack

FLAGS, RUNS = 10_000, 5
ENVIRONMENTS = ("development", "staging", "production")
EXPORT_GOAL, DRY_RUN_GOAL = 2.0, 5.0


def _rule(index: int) -> dict[str, Any] | None:
    """A percentage, a segment or a conditions rule for half the states, none for the rest."""
    serve = {"variant": "on"}
    kind = index % 6
    if kind == 0:
        return {"enabled": True, "rules": {"type": "PERCENTAGE", "value": index % 100}}
    if kind == 1:
        segment = {"type": "SEGMENT", "segments": ["beta"], "serve": serve}
        return {"enabled": True, "rules": {"rules": [segment]}}
    if kind == 2:
        leaf = {"attribute": "country", "op": "in", "value": ["PT", "BR"]}
        conditions = {"type": "CONDITIONS", "conditions": leaf, "serve": serve}
        return {"enabled": index % 4 == 0, "rules": {"rules": [conditions]}}
    return None


def document() -> dict[str, Any]:
    return {
        "version": 1,
        "environments": [{"key": key} for key in ENVIRONMENTS],
        "segments": [{"key": "beta", "included": [f"user-{i}" for i in range(50)]}],
        "flags": [
            {
                "name": f"bench_{index:05d}",
                "description": f"flag number {index}",
                "tags": ["bench", f"team-{index % 7}"],
                "environments": {
                    key: {"enabled": (index + n) % 2 == 0, "rule": _rule(index + n)}
                    for n, key in enumerate(ENVIRONMENTS)
                },
            }
            for index in range(FLAGS)
        ],
    }


def timed(call: Any) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response: requests.Response = call()
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response


def main() -> int:
    # Four or five megabytes of JSON: beyond the default limit (IMPORT_MAX_BYTES, 1 MiB)
    with private_stack({"IMPORT_MAX_BYTES": str(64 * 1024 * 1024)}) as stack:
        key = stack.new_key("bench")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        flags = stack.url_of("flags")
        load, _ = timed(lambda: session.post(f"{flags}/import", json=document(), timeout=600))
        exports = [timed(lambda: session.get(f"{flags}/export", timeout=120)) for _ in range(RUNS)]
        exported = exports[-1][1].content
        assert len(exports[-1][1].json()["flags"]) == FLAGS
        dry_runs = [
            timed(
                lambda: session.post(
                    f"{flags}/import?dry_run=true",
                    data=exported,
                    headers={"Content-Type": "application/json"},
                    timeout=120,
                )
            )
            for _ in range(RUNS)
        ]
        summary = dry_runs[-1][1].json()["summary"]
        assert summary["unchanged"] == FLAGS * len(ENVIRONMENTS) + 1, summary
    export = statistics.median(seconds for seconds, _ in exports)
    dry_run = statistics.median(seconds for seconds, _ in dry_runs)
    size = len(exported) / 1e6
    print(f"config files, {FLAGS} flags x {len(ENVIRONMENTS)} environments ({size:.1f} MB JSON):")
    print(f"  load (one applied import):  {load:6.2f} s")
    print(f"  GET /export:                {export:6.2f} s  {_verdict(export, EXPORT_GOAL)}")
    print(f"  POST /import?dry_run=true:  {dry_run:6.2f} s  {_verdict(dry_run, DRY_RUN_GOAL)}")
    return 0


def _verdict(seconds: float, goal: float) -> str:
    return f"median of {RUNS}  (goal ≤ {goal:.0f} s: {'met' if seconds <= goal else 'MISSED'})"


if __name__ == "__main__":
    sys.exit(main())
