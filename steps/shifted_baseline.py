"""A baseline from the same hours earlier (``policy.baseline_from: shifted``), read back per watch.

Why: a T-1w capture is one hour of one afternoon. A cut-over on Monday at 09:00 meets Monday's
login peak, and a T+24h watch spans a night, a morning and an evening; comparing each with the
same hours ``baseline_shift`` earlier (a week by default) is how an SRE eyeballs a dashboard
("is this normal for a Monday morning?"). Telemetry sources keep history, so the hours can be read
back when the watch starts: the span that the watch is about to cover, moved back by the shift.

**One hour, not the day's average.** A watch longer than an hour (T+24h) is read back hour by
hour, and its baseline is the *busiest* hour of the span: the error counts of the hour with the
highest error rate and the latency data of the hour with the highest p95 (among hours with at
least half the median hour's traffic, so a near-empty hour cannot set the bar). Why not the
span's aggregate: the judge compares every window with one baseline, and a day's average sits
below its own peak; at a ±60 % daily error cycle every healthy T+24h watch was held at the peak
against the aggregate (``bench/results/seasonal_baseline.md``). The busiest hour never holds a
healthy peak; the price, measured in the same file, is that a breach in a quiet hour must rise
above the span's busiest hour before the watch sees it (the T-1w capture is then the more
sensitive choice). Comparing each window with its own hour needs a null that varies per window
in the e-detector: not built.

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

PIECE = 3600.0
"""Plan seconds per piece a long watch's span is read back in (an hour: the daily cycle's grain)."""


def busiest_hour(pieces: list[Snapshot]) -> tuple[Snapshot, int, int] | None:
    """The baseline of a span read back in ``pieces``: the counts of the piece with the highest
    error rate and the latency data of the piece with the highest p95, among pieces with at least
    half the median piece's requests; (baseline, error piece index, latency piece index), None
    when no piece has traffic."""
    counted = [i for i, piece in enumerate(pieces) if piece.requests > 0]
    if not counted:
        return None
    traffic = sorted(pieces[i].requests for i in counted)
    enough = [i for i in counted if pieces[i].requests >= traffic[len(traffic) // 2] / 2]
    errors = max(enough, key=lambda i: (pieces[i].error_rate, pieces[i].requests))
    latency = max(enough, key=lambda i: (pieces[i].latency_ms.p95, pieces[i].requests))
    slow = pieces[latency]
    baseline = pieces[errors].model_copy(update={
        "latency_ms": slow.latency_ms, "latency_samples_ms": slow.latency_samples_ms,
        "latency_histogram": slow.latency_histogram})
    return baseline, errors, latency


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
        where = f"{_iso(start)}–{_iso(end)} UTC ({shift:g} s of plan time before this watch)"
        if end - start <= piece_wall * 1.01:
            window = history.read_window(end, end - start)
            problem = _unusable(window)
            if problem:
                return captured, f"baseline: the same hours earlier cannot be a baseline ({where}): {problem}; " \
                                 "compared with the T-1w capture instead"
            window = window.model_copy(update={"alerts": captured.alerts})
            return window, (f"baseline: the same hours earlier, {where}: {window.requests} requests, "
                            f"{window.error_rate:.2%} errors, p95 {window.latency_ms.p95:.1f} ms")
        bounds = _pieces(start, end, piece_wall)
        read = [history.read_window(b, b - a) for a, b in bounds]
        usable = [(bound, piece) for bound, piece in zip(bounds, read) if not _unusable(piece)]
        chosen = busiest_hour([piece for _, piece in usable])
        if chosen is None:
            problem = _unusable(read[0]) or "no hour had traffic"
            return captured, f"baseline: the same hours earlier cannot be a baseline ({where}): {problem}; " \
                             "compared with the T-1w capture instead"
        window, errors_at, latency_at = chosen
        window = window.model_copy(update={"alerts": captured.alerts})
        skipped = len(read) - len(usable)
        return window, (f"baseline: the busiest hour of the same hours earlier, {where}, read in {len(read)} "
                        f"hours{f' ({skipped} unusable)' if skipped else ''}: errors from {_span(usable[errors_at][0])} "
                        f"({window.requests} requests, {window.error_rate:.2%}), latency from "
                        f"{_span(usable[latency_at][0])} (p95 {window.latency_ms.p95:.1f} ms)")

    piece_wall = clock.wall_seconds(PIECE) if clock is not None else PIECE
    return rebaseline


def _pieces(start: float, end: float, piece: float) -> list[tuple[float, float]]:
    """``[start, end)`` cut into pieces of ``piece`` seconds (the last may be shorter, never tiny)."""
    bounds, at = [], start
    while end - at > piece * 1.5:
        bounds.append((at, at + piece))
        at += piece
    bounds.append((at, end))
    return bounds


def _span(bound: tuple[float, float]) -> str:
    return f"{_iso(bound[0])[11:16]}–{_iso(bound[1])[11:16]} UTC"
