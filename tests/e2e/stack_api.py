"""The stack's functions called with one key, for tests about targeting over HTTP."""

from __future__ import annotations

from typing import Any

import requests

from functions.devstack.stack import DevStack


class Api:
    """One key's session on the stack. With `settle`, a write waits until every
    evaluation process holds it (DESIGN.md 1.5), so the next decision sees it."""

    def __init__(self, stack: DevStack, key: str, *, settle: bool = True) -> None:
        self.stack = stack
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self._settle = settle

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(
            method, self.stack.url_of(function) + path, timeout=10, **kwargs
        )
        if self._settle and method != "GET" and function != "evaluation":
            self.stack.settle()
        return response
