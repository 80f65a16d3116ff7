"""How many active keys are bound to an environment: asked of the auth function,
which owns the keys, with the caller's own key and request id.

`requests` loads on the first count (deleting an environment asks it; nothing else does),
not with the flags function: about 50 ms of its cold start."""

from __future__ import annotations

from functions.core.errors import ServiceUnavailable
from functions.core.logs import request_id_headers


class BoundKeys:
    def __init__(self, auth_service_url: str, *, timeout: float = 3.0) -> None:
        self._base = auth_service_url.rstrip("/")
        self._timeout = timeout

    def count(self, *, token: str, environment: str) -> int:
        import requests

        try:
            response = requests.get(
                f"{self._base}/environments/{environment}/keys",
                headers={"Authorization": f"Bearer {token}", **request_id_headers()},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable("the auth function is unreachable") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"the auth function could not count the keys bound to '{environment}'"
            )
        return int(response.json()["active_keys"])
