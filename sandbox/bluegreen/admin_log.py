"""The demo's record of the admin requests that may change it, stamped when the router got them.

Why: a step, an injected fault and an undo are all admin requests (``PUT /_admin/weights``,
``POST /_admin/faults``). Timing them on the service's side — the moment the router received
each — is the honest way to say how long a run took to act on a breach (``bench/time_to_act.py``):
a caller's own timestamps include its client, its logging and its scheduling. Each entry carries
``time.monotonic()``, which on Linux is one system-wide clock (``CLOCK_MONOTONIC``), so another
process on the host can compare it with its own; ``received_at`` is the wall time, for people.

Reads (GET/HEAD) are left out: they change nothing, and a poller reading the log must not fill it.

    GET /_admin/requests -> {"requests": [{"method", "path", "body", "status",
                                           "received_monotonic", "received_at"}, ...]}
"""

from __future__ import annotations

import json
import time
from collections import deque
from datetime import datetime, timezone

from .http11 import HttpRequest

MAX_ENTRIES = 1000
MAX_BODY_CHARS = 2000


class AdminLog:
    """The last ``MAX_ENTRIES`` state-changing admin requests, oldest first (loop thread only)."""

    def __init__(self, maxlen: int = MAX_ENTRIES) -> None:
        self._entries: deque[dict[str, object]] = deque(maxlen=maxlen)

    @staticmethod
    def now() -> tuple[float, str]:
        """(monotonic, ISO wall) of this moment: taken before the request is handled."""
        return time.monotonic(), datetime.now(timezone.utc).isoformat()

    def record(self, request: HttpRequest, status: int, received: tuple[float, str]) -> None:
        if request.method in ("GET", "HEAD"):
            return
        self._entries.append({
            "method": request.method,
            "path": request.path,
            "body": _body(request.body),
            "status": status,
            "received_monotonic": received[0],
            "received_at": received[1],
        })

    def as_json(self) -> list[dict[str, object]]:
        return list(self._entries)


def _body(raw: bytes) -> object:
    """The body as JSON when it is JSON (what the admin API takes), else as cut text."""
    text = raw.decode("utf-8", "replace")[:MAX_BODY_CHARS]
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return text
