"""The post-migration reviews as the phases run them: each journaled as its own entry, none ever
stopping the migration (a review that breaks is a ``note`` saying so; the gates decide)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from odin_drills.steps.people import incidents, log_review
from odin_drills.steps.people.slo_check import check_slo


def _record(run: Any, phase: str, kind: str, compute: Callable[[], dict[str, Any]]) -> None:
    try:
        fields = compute()
    except Exception as exc:  # noqa: BLE001 - a review never fails a migration that went well
        run.journal.append("note", phase=phase, step=kind, message=f"{kind} could not be done: {type(exc).__name__}: {exc}")
        return
    run.journal.append(kind, phase=phase, **fields)


def review_t_plus_1h(run: Any) -> None:
    """"Verify SLOs are being met", "Review migration logs for errors"."""
    _record(run, "t+1h", "slo_check", lambda: check_slo(run.plan.slo, run.source, run.journal.entries(), run.clock.now()))
    _record(run, "t+1h", "log_review", lambda: log_review.review(run.journal.entries()))


def review_t_plus_24h(run: Any) -> None:
    """"Review incident count (did migration cause issues?)"; lessons learned are the report's."""
    _record(run, "t+24h", "incident_count", lambda: incidents.review(run.plan.alerts, run.journal.entries(),
                                                                        getattr(run.plan, "target", None)))
