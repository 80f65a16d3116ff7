"""HTTP between functions: one keep-alive `requests.Session` per thread.

A Session is not documented as thread-safe, and server workers serve requests on
several threads; one per thread keeps connections reused without sharing state.
"""

from __future__ import annotations

import threading

import requests


class ThreadSessions:
    def __init__(self) -> None:
        self._local = threading.local()

    def get(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session
