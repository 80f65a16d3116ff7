"""The reference function of DESIGN.md §5: three fields of JSON, nothing else.

A `functions_framework.aio` target, so that under the same server command and worker
count as evaluation (granian ASGI) it shows what the server alone costs: `make bench`
measures evaluation against it in the same run, because the machine is shared and
only a ratio taken side by side means anything. It answers every path, `/health`
included, which is also how its cold start is timed.
"""

from __future__ import annotations

from typing import Any

import functions_framework.aio
from starlette.requests import Request


@functions_framework.aio.http
async def hello(request: Request) -> dict[str, Any]:
    return {"flag_name": "hello", "user_id": "bench", "result": True}
