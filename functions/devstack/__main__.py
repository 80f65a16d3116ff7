"""``python -m functions.devstack``: what ``make dev`` runs. Ctrl-C stops everything."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from functions.devstack.errors import DevStackError
from functions.devstack.processes import tail
from functions.devstack.stack import DevStack, StackPorts

logger = logging.getLogger("functions.devstack")


def banner(stack: DevStack) -> str:
    """What `make dev` prints once everything is up: the one URL first."""
    width = max(len(target) for target in stack.function_urls)
    moto_state = (
        f"kept across restarts in {_relative(stack.aws_state_file)} (saved on Ctrl-C)"
        if stack.keeps_aws_state
        else "not kept by the stack"
    )
    lines = [
        "",
        "ToggleMaster dev stack is up:",
        f"  {stack.gateway_url}   every function, routed by path;"
        " / says what is where, /docs has every operation",
        "",
        "  each function on its own port:",
        *(f"    {target:<{width}}  {url}" for target, url in stack.function_urls.items()),
        f"  master key  {stack.master_key}",
        f"  TM_KEY      {stack.walkthrough_key}   (read, write, evaluate: the README's key)",
        f"  AWS (moto)  {stack.aws_endpoint_url}   state {moto_state}",
        f"  logs        {_relative(stack.logs_dir)}",
        "",
        f"In another shell: source {_relative(stack.env_file)}"
        " (exports TOGGLEMASTER_URL, TM_KEY, MASTER_KEY, ...)",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    stack = DevStack(Path.cwd() / ".run", StackPorts.from_env(os.environ))
    # Until start-up is done, Ctrl-C raises KeyboardInterrupt and start() cleans up.
    signal.signal(signal.SIGTERM, lambda signum, frame: _raise_interrupt())
    try:
        stack.start()
    except DevStackError as exc:
        print(f"make dev: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("make dev: interrupted during start-up; everything stopped", file=sys.stderr)
        return 130
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(banner(stack), flush=True)
    reported: set[str] = set()
    try:
        while not stop.wait(1.0):
            for target, code in stack.dead_functions().items():
                if target not in reported:
                    reported.add(target)
                    log_path = stack.logs_dir / f"{target}.log"
                    logger.error(
                        "%s exited with code %s; last lines of %s:\n%s",
                        target, code, log_path, tail(log_path),
                    )  # fmt: skip
    finally:
        print("stopping…", flush=True)
        stack.stop()
    print("stopped.", flush=True)
    return 0


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
