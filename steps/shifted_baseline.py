"""A baseline from the same hours earlier (``policy.baseline_from: shifted``), read back per watch.

Why: a T-1w capture is one hour of one afternoon. A cut-over on Monday at 09:00 meets Monday's
login peak, and a T+24h watch spans a night, a morning and an evening; comparing each with the
same hours ``baseline_shift`` earlier (a week by default) is how an SRE eyeballs a dashboard
("is this normal for a Monday morning?"). Telemetry sources keep history, so the hours can be read
back when the watch starts: the span that the watch is about to cover, moved back by the shift.

What it is not allowed to do is to go quiet. When the shifted hours cannot be a baseline (no
data kept that far back, the query failed, no traffic then), the watch is compared with the T-1w
capture instead and the journal says so and why: never a watch with no baseline, never a silent
switch. The captured baseline's alerts stay the reference for ``new_alerts`` (an alert source
answers what fires *now*; what fired a week ago is not on record).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from odin_drills.steps.snapshot import Snapshot

Rebaseline = Callable[[float], tuple[Snapshot, str]]
"""Given the real seconds a watch is about to last, its baseline and a line saying where it came from."""


def _history(source: Any) -> Any:
    """The source that can read a past span (``read_window``), under an alert wrapper if any."""
    inner = getattr(source, "inner", source)
    return inner if callable(getattr(inner, "read_window", None)) else None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _unusable(window: Snapshot) -> str | None:
    unavailable = window.signals.details.get("unavailable")
    if unavailable:
        return str(unavailable)
    if window.requests == 0:
        return "no request was recorded then"
    if window.errors >= window.requests:
        return f"every request failed then ({window.errors} of {window.requests}): that was an incident, not a baseline"
    return None


def shifted_baseline(source: Any, clock: Any, shift: float, captured: Snapshot,
                     wall_now: Callable[[], float] = time.time) -> Rebaseline:
    """A ``Rebaseline`` reading the watch's span ``shift`` of plan time earlier from ``source``."""
    shift_wall = clock.wall_seconds(shift) if clock is not None else shift

    def rebaseline(watch_wall_seconds: float) -> tuple[Snapshot, str]:
        history = _history(source)
        if history is None:
            return captured, (f"baseline: {getattr(source, 'name', 'the metric source')} cannot read past hours: "
                              "compared with the T-1w capture")
        now = wall_now()
        start = now - shift_wall
        end = min(start + max(watch_wall_seconds, 0.001), now)
        window = history.read_window(end, end - start)
        where = f"{_iso(start)}–{_iso(end)} UTC ({shift:g} s of plan time before this watch)"
        problem = _unusable(window)
        if problem:
            return captured, f"baseline: the same hours earlier cannot be a baseline ({where}): {problem}; " \
                             "compared with the T-1w capture instead"
        window = window.model_copy(update={"alerts": captured.alerts})
        return window, (f"baseline: the same hours earlier, {where}: {window.requests} requests, "
                        f"{window.error_rate:.2%} errors, p95 {window.latency_ms.p95:.1f} ms")

    return rebaseline
