"""A stop asked for from outside the run (SIGTERM, Ctrl-C): finish the step in flight, start no new one.

A signal may land anywhere, including between a world-changing call and its journal entry, so the
signal handler (``odin_drills.cli.signals``) never interrupts a step: it only *asks* here. The
runbooks look at :func:`check` at their safe points — before a step that changes the world, before
waiting for the next phase — and raise :class:`StopRequested` there, after the step in flight has
journaled its outcome. The intents already on the journal (``steps.intent``) make ``--resume`` and
``odin rollback`` correct from any such point; a second signal aborts at once (the journal stays
consistent because every intent is journaled before it acts).

One flag per process: a process runs one migration or drill at a time.
"""

from __future__ import annotations

import threading

_requested = threading.Event()
_reason: list[str] = []


class StopRequested(Exception):
    """Raised at a safe point after a stop was asked for; the run ends ``interrupted``."""

    def __init__(self, reason: str, before: str) -> None:
        super().__init__(f"stopped by {reason} before {before}")
        self.reason = reason
        self.before = before


def request(reason: str) -> None:
    """Ask the run to stop at its next safe point (idempotent; the first reason is kept)."""
    if not _reason:
        _reason.append(reason)
    _requested.set()


def requested() -> str | None:
    """Why a stop was asked for (``"SIGTERM"``…), or None."""
    return _reason[0] if _requested.is_set() and _reason else None


def check(before: str) -> None:
    """Raise :class:`StopRequested` if a stop was asked for; ``before`` names what would start next."""
    reason = requested()
    if reason is not None:
        raise StopRequested(reason, before)


def wait(seconds: float) -> bool:
    """Sleep up to ``seconds`` of real time; True as soon as a stop is asked for."""
    return _requested.wait(max(0.0, seconds))


def event() -> threading.Event:
    """The flag itself, for loops that already stop on an event (a gate's watch ends at its next window)."""
    return _requested


def reset() -> None:
    """Forget a stop request (a new run in the same process, and tests)."""
    _reason.clear()
    _requested.clear()
