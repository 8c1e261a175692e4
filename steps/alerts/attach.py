"""A metric source with an alert source beside it: each window ends with the alerts firing then.

Why at the end of the window: the ladder judges a window when it ends, and an alert rule has its
own ``for:`` (its confirmation), so what fires at that moment is what the monitoring concluded
about the window. An alert source that does not answer leaves the window without alerts *known*:
``signals.details["unavailable"]`` says why and the ladder's inconclusive rung takes it, so a
watch never proceeds on alerts it could not read.
"""

from __future__ import annotations

from typing import Any

from odin_drills.steps.alerts.alertmanager import AlertSourceUnavailable
from odin_drills.steps.snapshot import Snapshot


class AlertedSource:
    """``measure`` is the inner source's, plus ``Snapshot.alerts``; everything else passes through."""

    def __init__(self, inner: Any, alerts: Any) -> None:
        self.inner = inner
        self.alerts = alerts
        self.name = f"{inner.name} + {alerts.name}"
        self.clock = getattr(inner, "clock", None)

    def wall_seconds(self, plan_seconds: float) -> float:
        wall = getattr(self.inner, "wall_seconds", None)
        return wall(plan_seconds) if callable(wall) else 0.0

    def measure(self, plan_seconds: float) -> Snapshot:
        window = self.inner.measure(plan_seconds)
        try:
            firing = self.alerts.firing()
        except AlertSourceUnavailable as exc:
            details = {**window.signals.details,
                       "unavailable": f"alerts unknown for this window ({exc}): not proceeding on alerts unread"}
            return window.model_copy(update={"signals": window.signals.model_copy(update={"details": details})})
        return window.model_copy(update={"alerts": firing})

    def close(self) -> None:
        try:
            self.alerts.close()
        finally:
            self.inner.close()
