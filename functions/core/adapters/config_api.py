"""Evaluation's client of the flags and targeting functions: one flag's row, its rule and
the segments the rule names, read over HTTP with the service key."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

import requests

from functions.core.adapters.http_sessions import ThreadSessions
from functions.core.errors import EnvironmentNotFound, ServiceUnavailable

log = logging.getLogger(__name__)


class ConfigApi:
    def __init__(
        self,
        *,
        flag_service_url: str,
        targeting_service_url: str,
        service_api_key: str,
        timeout: float = 3.0,
    ) -> None:
        self._flags_url = flag_service_url.rstrip("/")
        self._targeting_url = targeting_service_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {service_api_key}"}
        self._timeout = timeout
        self._sessions = ThreadSessions()

    def flag(self, name: str, environment: str) -> dict[str, Any] | None:
        """`GET /flags/<name>`; None if there is no such flag; EnvironmentNotFound."""
        return self._read(f"{self._flags_url}/flags/{_query(name, environment)}")

    def rule(self, name: str, environment: str) -> dict[str, Any] | None:
        """`GET /rules/<name>`; None if the flag has no rule there."""
        return self._read(f"{self._targeting_url}/rules/{_query(name, environment)}")

    def segment(self, key: str) -> dict[str, Any] | None:
        return self._read(f"{self._targeting_url}/segments/{quote(key, safe='')}")

    def _read(self, url: str) -> dict[str, Any] | None:
        try:
            response = self._sessions.get().get(url, headers=self._headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ServiceUnavailable("the flag configuration is unreachable") from exc
        if response.status_code == 404:
            try:
                missing = response.json()
            except ValueError:
                raise ServiceUnavailable("the flag configuration answered 404, not JSON") from None
            if missing.get("code") == EnvironmentNotFound.code:
                raise EnvironmentNotFound(missing["error"], environment=missing.get("environment"))
            return None
        if response.status_code in (401, 403):
            log.error("SERVICE_API_KEY was refused by the flag functions")
            raise ServiceUnavailable("evaluation's service key was refused")
        if response.status_code != 200:
            raise ServiceUnavailable(f"the flag configuration answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body


def _query(name: str, environment: str) -> str:
    return f"{quote(name, safe='')}?{urlencode({'environment': environment})}"
