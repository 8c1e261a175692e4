"""How odin sees the service: metric sources (the synthetic open-loop probe) and smoke journeys.

``MetricSource`` is the one interface every source implements: ``SyntheticProbeSource`` and
``prometheus.PrometheusSource``; ``open.open_metric_source`` opens the plan's. ``run_journeys``
checks user journeys end to end and never raises on a failing service.
"""

from odin_drills.steps.probes.smoke import JourneyResult, SmokeReport, run_journeys
from odin_drills.steps.probes.source import MetricSource
from odin_drills.steps.probes.synthetic import ProbeClosed, SyntheticProbeSource, WindowStats

__all__ = [
    "JourneyResult",
    "MetricSource",
    "ProbeClosed",
    "SmokeReport",
    "SyntheticProbeSource",
    "WindowStats",
    "run_journeys",
]
