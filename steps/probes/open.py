"""The plan's metric source (and alert source beside it), opened for a run.

One place decides which class serves ``metrics.kind``, so a flow never names a source class and a
new kind plugs in here: ``synthetic_probe`` -> ``SyntheticProbeSource``, ``prometheus`` ->
``PrometheusSource``, ``azure_monitor`` -> ``AzureMonitorSource`` (Application Insights),
``azure_monitor_metrics`` -> ``AzureMonitorMetricsSource`` (platform metrics); with ``alerts:`` the source is
wrapped in ``AlertedSource`` so every window
(the baseline's too) lists the alerts firing when it ended: ``alerts.kind`` ``alertmanager`` ->
``AlertmanagerSource``, ``azure_monitor_alerts`` -> ``AzureMonitorAlertsSource`` (``open_alert_source``).
"""

from __future__ import annotations

from typing import Any

from odin_drills.steps.clock import Clock


def open_metric_source(plan: Any, clock: Clock) -> Any:
    """A ``MetricSource`` for ``plan.metrics`` (and ``plan.alerts``, when set). Close it when done."""
    spec = plan.metrics
    if spec.kind == "prometheus":
        from odin_drills.steps.probes.prometheus import PrometheusSource

        source: Any = PrometheusSource(spec, clock)
    elif spec.kind == "azure_monitor":
        from odin_drills.steps.probes.azure_monitor import AzureMonitorSource

        source = AzureMonitorSource(spec, clock, target=getattr(plan, "target", None))
    elif spec.kind == "azure_monitor_metrics":
        from odin_drills.steps.probes.azure_monitor_metrics import AzureMonitorMetricsSource

        source = AzureMonitorMetricsSource(spec, clock, target=getattr(plan, "target", None))
    else:
        from odin_drills.steps.probes.synthetic import SyntheticProbeSource

        source = SyntheticProbeSource(spec, clock)
    alerts = getattr(plan, "alerts", None)
    if alerts is None:
        return source
    from odin_drills.steps.alerts import AlertedSource

    return AlertedSource(source, open_alert_source(alerts, getattr(plan, "target", None)))


def open_alert_source(spec: Any, target: Any = None) -> Any:
    """The reader for ``plan.alerts`` by its ``kind`` (``firing()`` and ``close()``)."""
    if spec.kind == "azure_monitor_alerts":
        from odin_drills.steps.alerts.azure_monitor_alerts import AzureMonitorAlertsSource

        return AzureMonitorAlertsSource(spec, target=target)
    from odin_drills.steps.alerts import AlertmanagerSource

    return AlertmanagerSource(spec)
