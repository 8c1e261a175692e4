"""The one boundary where measurements come in: a metric source.

The rollback ladder judges ``Snapshot`` windows and does not care where they came from. Today the
sources are the synthetic open-loop probe and Prometheus (``steps/probes/open.py`` picks one for a
plan); an Azure Monitor reader plugs in behind the same two methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from odin_drills.steps.snapshot import Snapshot


@runtime_checkable
class MetricSource(Protocol):
    """Something that can watch the service for a window of plan time and say what it saw."""

    name: str

    def measure(self, plan_seconds: float) -> Snapshot:
        """Block for a window of ``plan_seconds`` of plan time; return what the window showed.

        The window advances the run's clock by ``plan_seconds`` however much real time it takes
        (``odin_drills.steps.clock.measurement_window``): a source that needs a real-time floor
        under a scaled clock must not stretch the plan timeline by it.
        """
        ...

    def close(self) -> None:
        """Release connections, threads and anything else the source holds. Idempotent."""
        ...
