"""Azure Monitor platform metrics as a metric source: what the platform counted for the service's resources.

Each window lasts its real length (under a scaled clock at least ``min_window_wall_seconds``, as for
the other queried sources) and ends, after ``query_delay`` real seconds for ingestion (platform
metrics arrive some minutes late), with one ``metrics:getBatch`` request per region through
``azure-monitor-querymetrics``' real ``MetricsClient.query_resources``, over the window's real
bounds ``[T - W, T]`` in wall time at the plan's grain (``interval``, PT1M by default). Across
resources, time series and data points:

* ``requests`` is the sum of the requests metric's ``Total`` (App Service: ``Requests``);
* ``errors`` the sum of the failed metrics' ``Total`` (``Http5xx``; with ``[Http4xx, Http5xx]`` both);
* the latency metric's ``Average`` (``HttpResponseTime``, seconds -> ms), weighted by each point's
  ``Count``, is the window's **mean** response time.

**Platform metrics have no percentiles and no latency distribution.** The Snapshot's ``latency_ms``
requires p50/p95/p99, so all three hold that mean (and there is no histogram and no samples): the
ladder then judges latency on the point estimate only ("percentiles only: the point estimate
stands"), which compares the window's mean with the baseline's mean, an honest "responses got
slower" test. What it is not is a p95: an absolute limit on p95 (``policy.absolute``) is checked
against the mean, which is at or below the p95 of any usual latency distribution, so it can only
fire late, never falsely. The source's name says "mean latency" so every gate entry carries it.
Without ``latency_metric`` all three are 0 and latency is not judged. Azure keeps the data at
minute grain: a window is read as the whole minutes Azure attributes to it.

Authentication is the target's, as for the Log Analytics source (``azure_monitor``): real Azure
uses ``DefaultAzureCredential`` (built on the first query) and ``https://{region}.metrics.monitor.
azure.com``; a sandbox target the sandbox's token, regional metrics endpoints, web apps and CA
(from ``ODIN_SANDBOX_INFO``).

A query that fails (HTTP error, refused), returns no data point, or counts no request at all in the
window leaves the counts at zero with ``signals.details["unavailable"]`` naming the query and the
reason: the ladder's inconclusive rung takes it, so a watch never proceeds on data it did not read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from odin_drills.plan.azure_platform_metrics import GRAINS_SECONDS, AzureMonitorPlatformMetrics
from odin_drills.steps.clock import Clock
from odin_drills.steps.probes.queried import QueriedWindowSource
from odin_drills.steps.snapshot import LatencyPercentiles, Signals, Snapshot


MAX_POINTS = 1440
"""Data points per metric a long read (an SLO window, a shifted baseline) asks for at most: a day of minutes."""


def grain_for(interval: float, span: float) -> float:
    """The plan's grain, or a coarser one Azure keeps when the span would need more than ``MAX_POINTS``
    points (30 days at PT1M is 43,200): totals are sums, so the grain changes none of them."""
    for grain in (g for g in GRAINS_SECONDS if g >= interval):
        if span / grain <= MAX_POINTS:
            return grain
    return GRAINS_SECONDS[-1]


class QueryFailed(RuntimeError):
    """The metrics endpoint did not answer the window's query, or answered with something unusable."""


def public_endpoint(region: str) -> str:
    return f"https://{region}.metrics.monitor.azure.com"


@dataclass(frozen=True)
class RegionQuery:
    """One regional getBatch request per window: where it goes and which resources it asks about."""

    region: str
    endpoint: str
    resource_ids: tuple[str, ...]


def metrics_targets(spec: AzureMonitorPlatformMetrics, target: Any) -> tuple[list[RegionQuery], str | None, bool]:
    """``(queries, ca_cert, sandbox)`` for ``spec`` under the plan's target.

    For a sandbox target the endpoints (and the resources, when the plan names none: the sandbox's
    regional web apps, or only ``region``'s) come from the running sandbox's info; a QueryFailed
    names what is missing."""
    sandbox = getattr(target, "kind", None) == "sandbox"
    groups = spec.by_region()
    if not sandbox:
        return [RegionQuery(region, spec.endpoint or public_endpoint(region), tuple(ids))
                for region, ids in groups.items()], None, False
    from odin_drills.steps.azure.clients import SANDBOX_INFO_ENV, read_sandbox_info

    info = read_sandbox_info()
    endpoints = info.get("metrics_endpoints") or {}
    ca_cert = getattr(target, "ca_cert", None) or info.get("ca_cert")
    if not groups:
        apps = (info.get("resources") or {}).get("web_apps") or {}
        groups = {region: [rid] for region, rid in apps.items() if spec.region in (None, region)}
    if not endpoints or not groups or not ca_cert:
        raise QueryFailed(f"the sandbox's metrics endpoint is unknown: point {SANDBOX_INFO_ENV} at a running "
                          "sandbox's sandbox.json (odin sandbox up --state-dir DIR)")
    queries = []
    for region, ids in groups.items():
        endpoint = spec.endpoint or endpoints.get(region)
        if not endpoint:
            raise QueryFailed(f"the sandbox has no metrics endpoint for region {region!r}")
        queries.append(RegionQuery(region, str(endpoint), tuple(ids)))
    return queries, str(ca_cert), True


class AzureMonitorMetricsSource(QueriedWindowSource):
    """A ``MetricSource`` reading one window at a time from Azure Monitor platform metrics."""

    def __init__(self, spec: AzureMonitorPlatformMetrics, clock: Clock, *, target: Any = None,
                 wall_now: Any = time.time) -> None:
        super().__init__(spec, clock, wall_now)
        self.spec: AzureMonitorPlatformMetrics = spec
        self._target = target
        self._credential: Any = None
        self._clients: list[tuple[RegionQuery, Any]] | None = None
        self.name = self._named(sorted(spec.by_region()), len(spec.all_resource_ids()))
        if getattr(target, "kind", None) == "sandbox":
            try:  # name the sandbox's resources now when it is already up; else on the first query
                self._connect()
            except QueryFailed:
                pass

    def _named(self, regions: list[str], resources: int) -> str:
        where = f"{resources} resource{'s' if resources != 1 else ''} in {', '.join(regions)}" if regions else "?"
        latency = f", mean latency from {self.spec.latency_metric}" if self.spec.latency_metric else ""
        return f"azure_monitor_metrics {self.spec.metric_namespace} ({where}{latency})"

    def _connect(self) -> list[tuple[RegionQuery, Any]]:
        """One client per region, built on first use: a sandbox started after the plan was loaded is found then."""
        if self._clients is not None:
            return self._clients
        queries, ca_cert, sandbox = metrics_targets(self.spec, self._target)
        if not queries:
            raise QueryFailed("metrics.resource_ids: no resources named")
        from azure.monitor.querymetrics import MetricsClient

        from odin_drills.steps.azure.clients import LazyDefaultCredential, SandboxToken

        self._credential = SandboxToken() if sandbox else LazyDefaultCredential()
        options: dict[str, Any] = {"connection_timeout": self.spec.timeout, "read_timeout": self.spec.timeout,
                                   "retry_total": 2}
        if ca_cert:
            options["connection_verify"] = ca_cert
        self._clients = [(query, MetricsClient(query.endpoint, self._credential, **options)) for query in queries]
        self.name = self._named(sorted(q.region for q in queries), sum(len(q.resource_ids) for q in queries))
        return self._clients

    def read_window(self, end: float, seconds: float) -> Snapshot:
        return self.read(end - seconds, end)

    def read(self, start: float, end: float) -> Snapshot:
        """The window ``[start, end]`` (unix seconds, wall time) as a Snapshot."""
        try:
            totals = self._totals(start, end)
        except QueryFailed as exc:
            return self._unavailable(str(exc))
        requests = int(round(totals["requests"]))
        if requests <= 0:
            return self._unavailable(f"the metrics query counted no {self.spec.requests_metric} in the window "
                                     f"({self._described(start, end)})")
        errors = min(requests, max(0, int(round(totals["failed"]))))
        mean = 0.0
        if self.spec.latency_metric and totals["latency_weight"] > 0:
            mean = totals["latency_sum"] / totals["latency_weight"]
            mean *= 1000.0 if self.spec.latency_unit == "seconds" else 1.0
        return Snapshot(requests=requests, errors=errors, latency_ms=LatencyPercentiles(p50=mean, p95=mean, p99=mean))

    def _unavailable(self, why: str) -> Snapshot:
        return Snapshot(requests=0, errors=0, latency_ms=LatencyPercentiles(p50=0, p95=0, p99=0), signals=Signals(
            details={"unavailable": f"{self.name}: {why}: not proceeding on data not read"}))

    def _described(self, start: float, end: float) -> str:
        return f"{', '.join(self.spec.metric_names())} of {self.spec.metric_namespace}, {_iso(start)}/{_iso(end)}"

    def _totals(self, start: float, end: float) -> dict[str, float]:
        try:
            clients = self._connect()
        except QueryFailed as exc:
            raise QueryFailed(f"the metrics query cannot run: {exc}") from exc
        from azure.core.exceptions import AzureError

        described = self._described(start, end)
        timespan = (datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
        aggregations = ["Total", "Average", "Count"] if self.spec.latency_metric else ["Total"]
        totals = {"requests": 0.0, "failed": 0.0, "latency_sum": 0.0, "latency_weight": 0.0}
        points = 0
        for query, client in clients:
            try:
                results = client.query_resources(
                    resource_ids=list(query.resource_ids), metric_namespace=str(self.spec.metric_namespace),
                    metric_names=self.spec.metric_names(), timespan=timespan,
                    granularity=timedelta(seconds=grain_for(self.spec.interval, end - start)),
                    aggregations=aggregations)
            except AzureError as exc:
                message = str(getattr(exc, "message", None) or exc).splitlines()[0]
                raise QueryFailed(f"the metrics query failed in {query.region} ({described}): "
                                  f"{type(exc).__name__}: {message}") from exc
            points += self._add(results, totals)
        if points == 0:
            raise QueryFailed(f"the metrics query returned no data points ({described})")
        return totals

    def _add(self, results: list[Any], totals: dict[str, float]) -> int:
        """Add one region's answer into ``totals``; the number of data points that carried a value."""
        failed = {name.lower() for name in self.spec.failed_metrics or []}
        requests, latency = str(self.spec.requests_metric).lower(), (self.spec.latency_metric or "").lower()
        points = 0
        for result in results:
            for metric in result.metrics:
                name = str(metric.name or "").lower()
                for series in metric.timeseries or []:
                    for value in series.data or []:
                        if value.total is None and value.average is None:
                            continue  # no data in that grain
                        points += 1
                        if name == requests:
                            totals["requests"] += value.total or 0.0
                        if name in failed:
                            totals["failed"] += value.total or 0.0
                        if latency and name == latency and value.average is not None:
                            weight = value.count if value.count else 1.0
                            totals["latency_sum"] += value.average * weight
                            totals["latency_weight"] += weight
        return points

    def release(self) -> None:
        for _, client in self._clients or []:
            client.close()
        if self._credential is not None:
            self._credential.close()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
