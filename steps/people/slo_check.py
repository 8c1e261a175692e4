"""T+1h "Verify SLOs are being met": the plan's ``slo:`` availability over the migration so far.

Two readings, both journaled (``slo_check``): the metric source over ``[T-0, now]`` when it can
look back (Prometheus: what every user got), and the windows the gates measured since T-0 (any
source: what odin watched). The first decides when it has requests, else the second. ``met`` is
availability >= the objective; the *burn rate* is the error rate over the error rate the objective
allows (1.0 spends the budget exactly over the SLO window; above it the migration spends faster).
A plan without ``slo:`` gets an entry saying there was nothing to verify. Recorded and reported
only: the gates, not this check, decide holds and rollbacks.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from odin_drills.steps.journal import Entry


def t0_start(entries: list[Entry]) -> Entry | None:
    """The first ``phase_started`` of T-0: where "during the migration" begins."""
    return next((e for e in entries if e.kind == "phase_started" and e.phase == "t0"), None)


def _reading(requests: int, errors: int, **extra: Any) -> dict[str, Any]:
    availability = None if requests <= 0 else 100.0 * (requests - errors) / requests
    return {"requests": requests, "errors": errors, "availability": availability, **extra}


def gate_windows(entries: list[Entry], since_seq: int) -> dict[str, Any]:
    """The gates' measured windows since T-0 (numbered windows: not a watch's merged evaluation,
    not the re-check after a rollback), summed."""
    windows = [e for e in entries if e.kind == "gate" and e.seq > since_seq and isinstance(e.data.get("window"), int)]
    requests = sum(int((e.data.get("snapshot") or {}).get("requests") or 0) for e in windows)
    errors = sum(int((e.data.get("snapshot") or {}).get("errors") or 0) for e in windows)
    return _reading(requests, errors, windows=len(windows))


def source_reading(source: Any, since_wall: datetime) -> tuple[dict[str, Any] | None, str | None]:
    """The metric source over ``[since_wall, now]`` (real time) when it can look back; why not otherwise."""
    reader = getattr(source, "inner", source)
    if not callable(getattr(reader, "read", None)):
        return None, f"{getattr(reader, 'name', 'the metric source')} cannot look back: the gates' windows decide"
    now = time.time()
    span = max(1.0, now - since_wall.timestamp())
    try:
        window = reader.read(now, span)
    except Exception as exc:  # noqa: BLE001 - a review never stops the migration
        return None, f"{getattr(reader, 'name', 'the metric source')}: {type(exc).__name__}: {exc}"
    unavailable = window.signals.details.get("unavailable")
    if unavailable:
        return None, str(unavailable)
    return _reading(window.requests, window.errors, source=getattr(reader, "name", "metric source"),
                    wall_seconds=round(span, 3)), None


def check_slo(slo: Any, source: Any, entries: list[Entry], now: datetime) -> dict[str, Any]:
    """The ``slo_check`` entry's fields (plan time ``now``)."""
    start = t0_start(entries)
    since = start.time if start is not None else None
    windows = gate_windows(entries, start.seq if start is not None else 0)
    base: dict[str, Any] = {"since": since, "span_seconds": (now - since).total_seconds() if since else None,
                            "windows": windows}
    if slo is None:
        return {**base, "objective": None, "met": None, "detail": "the plan declares no slo: objective: nothing to "
                "verify (the gates judged the migration against its baseline)"}
    measured, unavailable = source_reading(source, start.wall) if start is not None else (None, "T-0 did not run")
    chosen, by = (measured, "the metric source") if measured and measured["requests"] > 0 else (windows, "the gates' windows")
    base.update(objective=slo.availability, measured=measured, unavailable=unavailable)
    if chosen["availability"] is None:
        return {**base, "met": None, "detail": f"no requests seen since T-0 ({unavailable or 'no gate window'}): the "
                f"{slo.availability:g} % objective could not be verified"}
    allowed = 1 - slo.availability / 100
    burn = (chosen["errors"] / chosen["requests"]) / allowed
    met = chosen["availability"] >= slo.availability
    detail = (f"availability {chosen['availability']:.3f} % over the migration so far ({chosen['errors']:,} failed of "
              f"{chosen['requests']:,} requests, from {by}) {'meets' if met else 'MISSES'} the {slo.availability:g} % "
              f"objective; error-budget burn rate {burn:.2f}x")
    return {**base, "met": met, "burn_rate": round(burn, 4), "decided_by": by, "detail": detail}
