"""Prefect API calls a run does not depend on (artifacts): bounded in time, skipped when the API is gone.

A run's outcome is in its journal; the artifacts are copies for the UI. Prefect's client retries a
lost connection with exponential back-off — about a minute per call — so three report artifacts
after the API died kept ``odin migrate`` busy for minutes after ``run_finished``. Here each such
call first asks the API's ``/health`` (two seconds), and runs for at most ``CALL_SECONDS``; a
skipped or abandoned call is logged, never raised: the reports on disk are the record.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx

CALL_SECONDS = 15.0
HEALTH_SECONDS = 2.0
log = logging.getLogger(__name__)


def api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def api_answers(timeout: float = HEALTH_SECONDS) -> bool:
    """Whether the Prefect API answers ``/health`` now (no URL set: an ephemeral API, assumed up)."""
    url = api_url()
    if url is None:
        return True
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def best_effort(what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """``call(*args, **kwargs)`` if the API answers, for at most ``CALL_SECONDS``; True if it completed.

    It runs in a daemon thread with this thread's context (so an artifact still belongs to the
    flow run); one that outlives the bound is left to the process's bounded exit."""
    if not api_answers():
        log.warning("%s skipped: the Prefect API at %s does not answer", what, api_url())
        return False
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            context.run(call, *args, **kwargs)
            outcome["ok"] = True
        except Exception as exc:  # noqa: BLE001 - logged below, never raised into the run
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"odin-best-effort-{what}", daemon=True)
    thread.start()
    thread.join(CALL_SECONDS)
    if thread.is_alive():
        log.warning("%s abandoned after %g s: the Prefect API is not answering", what, CALL_SECONDS)
        return False
    if "error" in outcome:
        log.warning("%s failed: %s", what, outcome["error"])
        return False
    return True
