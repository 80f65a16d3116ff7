"""`python -m functions.commands.cli`: configuration as code, for CI pipelines.

    python -m functions.commands.cli apply flags.yaml --url http://localhost:8002 [--dry-run]
    python -m functions.commands.cli export --url http://localhost:8002 \
        [--environment staging] > flags.yaml

The API key comes from --key or TOGGLEMASTER_API_KEY. `apply` prints the plan as a
readable diff and exits 1 when the document is refused or the call fails, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import requests

MARKS = {"created": "+", "changed": "~", "deleted": "-", "unchanged": " "}


def render_plan(result: dict[str, Any], *, verbose: bool = False) -> str:
    """The import answer as lines a reviewer reads like a diff."""
    lines = []
    for item in result["plan"]:
        if item["action"] == "unchanged" and not verbose:
            continue
        if "flag" in item:
            where = f" [{item['environment']}]" if "environment" in item else ""
            subject = f"flag {item['flag']}{where}"
        elif "segment" in item:
            subject = f"segment {item['segment']}"
        else:
            subject = f"environment {item['environment']}"
        lines.append(f"{MARKS[item['action']]} {subject}: {item['action']}")
        for name, change in item.get("changes", {}).items():
            lines.append(f"    {name}: {_short(change['from'])} → {_short(change['to'])}")
    counts = ", ".join(f"{count} {action}" for action, count in result["summary"].items())
    outcome = "dry run" if result["dry_run"] else ("applied" if result["applied"] else "no change")
    lines.append(f"{counts} ({outcome})")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _load(path: Path) -> tuple[bytes, str]:
    raw = path.read_bytes()
    kind = "application/json" if path.suffix == ".json" else "application/yaml"
    return raw, kind


class CommandFailed(Exception):
    """What to print before exiting 1."""


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {args.key}", **kwargs.pop("headers", {})}
    try:
        response = requests.request(
            method, f"{args.url.rstrip('/')}{path}", headers=headers, timeout=args.timeout, **kwargs
        )
    except requests.RequestException as exc:
        raise CommandFailed(f"cannot reach {args.url}: {exc}") from None
    if response.status_code != 200:
        raise CommandFailed(f"refused ({response.status_code}): {_error(response)}")
    return response


def apply(args: argparse.Namespace, out: TextIO) -> None:
    try:
        body, content_type = _load(Path(args.file))
    except OSError as exc:
        raise CommandFailed(f"cannot read {args.file}: {exc.strerror}") from None
    response = _call(
        args,
        "POST",
        "/import",
        params={"dry_run": "true" if args.dry_run else "false"},
        data=body,
        headers={"Content-Type": content_type},
    )
    print(render_plan(response.json(), verbose=args.verbose), file=out)


def export(args: argparse.Namespace, out: TextIO) -> None:
    params = {"environment": args.environment} if args.environment else {}
    accept = "application/json" if args.format == "json" else "application/yaml"
    out.write(_call(args, "GET", "/export", params=params, headers={"Accept": accept}).text)


def _error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    where = f" at {body['field']}" if body.get("field") else ""
    return f"{body.get('error', body)}{where}"


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.commands.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("apply", "export"):
        command = commands.add_parser(name)
        command.add_argument(
            "--url",
            default=os.environ.get("FLAGS_URL", "http://localhost:8002"),
            help="the flags function (default: $FLAGS_URL or localhost:8002)",
        )
        command.add_argument(
            "--key",
            default=os.environ.get("TOGGLEMASTER_API_KEY"),
            help="API key (default: $TOGGLEMASTER_API_KEY)",
        )
        command.add_argument("--timeout", type=float, default=30.0)
        if name == "apply":
            command.add_argument("file")
            command.add_argument("--dry-run", action="store_true", help="show the plan only")
            command.add_argument("--verbose", action="store_true", help="list unchanged too")
        else:
            command.add_argument("--environment", help="one environment (default: all)")
            command.add_argument("--format", choices=("yaml", "json"), default="yaml")
    args = parser.parse_args(argv)
    if not args.key:
        print(f"{args.command}: give --key or set TOGGLEMASTER_API_KEY", file=sys.stderr)
        return 2
    try:
        (apply if args.command == "apply" else export)(args, out)
    except CommandFailed as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
