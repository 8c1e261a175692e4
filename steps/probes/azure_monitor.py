"""Application Insights as a metric source: what real users got, from the service's request telemetry.

Each window lasts its real length (under a scaled clock at least ``min_window_wall_seconds``, as
for the probe and Prometheus) and ends, after ``query_delay`` real seconds for ingestion, with one
KQL query (``AzureMonitorMetrics.query()``) through ``azure-monitor-query``'s real
``LogsQueryClient``, whose ``timespan`` is the window's real bounds ``[T - W, T]`` in wall time.
The one row it returns becomes the ``Snapshot``: ``requests``/``failed`` are the counts, p50/p95/p99
the latencies, and the ``countif(duration <= b)`` columns plus the count (as the ``+Inf`` bucket)
the cumulative ``LatencyHistogram`` the sequential judge counts slow requests from, exactly as
from Prometheus' buckets.

Authentication is the target's, as for the azure-mgmt clients (``odin_drills.steps.azure.clients``):
real Azure uses ``DefaultAzureCredential`` (built on the first query) and the public endpoint; a
sandbox target the sandbox's token, Log Analytics URL and CA (from ``ODIN_SANDBOX_INFO``).

A query that fails (HTTP error, refused, partial result), returns no row, or finds no request at
all in the window leaves the counts at zero with ``signals.details["unavailable"]`` naming the
query and the reason: the ladder's inconclusive rung takes it, so a watch never proceeds on data
it did not read. (No telemetry at all is not called an outage: ingestion can lag or break, and
the probe beside this source is the "can users reach it" signal.)
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from odin_drills.plan.azure_monitor import AzureMonitorMetrics
from odin_drills.steps.clock import Clock
from odin_drills.steps.probes.prometheus import INF_BOUND_MS, quantile_from_buckets
from odin_drills.steps.probes.queried import QueriedWindowSource
from odin_drills.steps.snapshot import LatencyHistogram, LatencyPercentiles, Signals, Snapshot

PUBLIC_ENDPOINT = "https://api.loganalytics.io"


class QueryFailed(RuntimeError):
    """Log Analytics did not answer the window's query, or answered with something unusable."""


def log_analytics_target(spec: AzureMonitorMetrics, target: Any) -> tuple[str, str | None, str | None, bool]:
    """``(endpoint, workspace_id, ca_cert, sandbox)`` for ``spec`` under the plan's target.

    For a sandbox target the endpoint, workspace and CA left out of the plan come from the running
    sandbox's info (``ODIN_SANDBOX_INFO``); a QueryFailed names what is missing."""
    sandbox = getattr(target, "kind", None) == "sandbox"
    if not sandbox:
        return spec.endpoint or PUBLIC_ENDPOINT, spec.workspace_id, None, False
    from odin_drills.steps.azure.clients import SANDBOX_INFO_ENV, read_sandbox_info

    info = read_sandbox_info()
    endpoint = spec.endpoint or info.get("log_analytics_url")
    workspace = spec.workspace_id or info.get("log_analytics_workspace_id")
    ca_cert = getattr(target, "ca_cert", None) or info.get("ca_cert")
    if not endpoint or not workspace or not ca_cert:
        raise QueryFailed(f"metrics: the sandbox's Log Analytics workspace is unknown: point {SANDBOX_INFO_ENV} "
                          "at a running sandbox's sandbox.json (odin sandbox up --state-dir DIR)")
    return str(endpoint), str(workspace), str(ca_cert), True


class AzureMonitorSource(QueriedWindowSource):
    """A ``MetricSource`` reading one window at a time from Application Insights (Log Analytics)."""

    def __init__(self, spec: AzureMonitorMetrics, clock: Clock, *, target: Any = None, client: Any = None,
                 wall_now: Any = time.time) -> None:
        super().__init__(spec, clock, wall_now)
        self.spec: AzureMonitorMetrics = spec
        self._target = target
        self._own = client is None
        self._credential: Any = None
        self._client = client
        self.endpoint = spec.endpoint or PUBLIC_ENDPOINT
        self.workspace_id = spec.workspace_id or ""
        self.name = f"azure_monitor {self.spec.table} in workspace {self.workspace_id or '?'}"
        if client is None and getattr(target, "kind", None) == "sandbox":
            try:  # name the sandbox's workspace now when it is already up; else on the first query
                self._connect()
            except QueryFailed:
                pass

    def _connect(self) -> Any:
        """The client, built on first use: a sandbox started after the plan was loaded is found then."""
        if self._client is not None:
            return self._client
        self.endpoint, workspace, ca_cert, sandbox = log_analytics_target(self.spec, self._target)
        if not workspace:
            raise QueryFailed("metrics.workspace_id: no Log Analytics workspace named")
        self.workspace_id = workspace
        self.name = f"azure_monitor {self.spec.table} in workspace {self.workspace_id}"
        self._client = self._make_client(ca_cert, sandbox)
        return self._client

    def _make_client(self, ca_cert: str | None, sandbox: bool) -> Any:
        from azure.monitor.query import LogsQueryClient

        from odin_drills.steps.azure.clients import LazyDefaultCredential, SandboxToken

        self._credential = SandboxToken() if sandbox else LazyDefaultCredential()
        options: dict[str, Any] = {"endpoint": self.endpoint, "connection_timeout": self.spec.timeout,
                                   "read_timeout": self.spec.timeout, "retry_total": 2}
        if ca_cert:
            options["connection_verify"] = ca_cert
        return LogsQueryClient(self._credential, **options)

    def read_window(self, end: float, seconds: float) -> Snapshot:
        return self.read(end - seconds, end)

    def read(self, start: float, end: float) -> Snapshot:
        """The window ``[start, end]`` (unix seconds, wall time) as a Snapshot."""
        try:
            row = self._row(start, end)
        except QueryFailed as exc:
            return self._unavailable(str(exc))
        requests = int(row.get("requests") or 0)
        if requests <= 0:
            return self._unavailable(f"the requests query found no requests in the window ({self._described(start, end)})")
        errors = min(requests, max(0, int(row.get("failed") or 0)))
        bounds = list(self.spec.latency_buckets_ms) + [INF_BOUND_MS]
        counts: list[int] = []
        for index in range(len(self.spec.latency_buckets_ms)):
            counts.append(min(requests, max(int(row.get(f"le_{index}") or 0), counts[-1] if counts else 0)))
        counts.append(requests)
        histogram = LatencyHistogram(le_ms=bounds, counts=counts)
        latency = LatencyPercentiles(**{name: self._percentile(row, name, bounds, counts, q)
                                        for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))})
        return Snapshot(requests=requests, errors=errors, latency_ms=latency, latency_histogram=histogram)

    @staticmethod
    def _percentile(row: dict[str, Any], name: str, bounds: list[float], counts: list[int], q: float) -> float:
        value = row.get(name)
        if isinstance(value, (int, float)) and value >= 0:
            return float(value)
        return quantile_from_buckets(q, bounds, counts)  # a null percentile: read it from the histogram

    def _unavailable(self, why: str) -> Snapshot:
        return Snapshot(requests=0, errors=0, latency_ms=LatencyPercentiles(p50=0, p95=0, p99=0), signals=Signals(
            details={"unavailable": f"{self.name}: {why}: not proceeding on data not read"}))

    def _described(self, start: float, end: float) -> str:
        role = f", role {self.spec.role}" if self.spec.role else ""
        return f"{self.spec.table}{role}, {_iso(start)}/{_iso(end)}"

    def _row(self, start: float, end: float) -> dict[str, Any]:
        try:
            client = self._connect()
        except QueryFailed as exc:
            raise QueryFailed(f"the requests query cannot run: {exc}") from exc
        from azure.core.exceptions import AzureError
        from azure.monitor.query import LogsQueryStatus

        described = self._described(start, end)
        timespan = (datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
        try:
            result = client.query_workspace(self.workspace_id, self.spec.query(), timespan=timespan,
                                                  server_timeout=max(1, round(self.spec.timeout)))
        except AzureError as exc:
            message = str(getattr(exc, "message", None) or exc).splitlines()[0]
            raise QueryFailed(f"the requests query failed ({described}): {type(exc).__name__}: {message}") from exc
        if result.status != LogsQueryStatus.SUCCESS:
            error = getattr(result, "partial_error", None)
            raise QueryFailed(f"the requests query returned a partial result ({described}): "
                              f"{getattr(error, 'message', error)}")
        tables = list(result.tables or [])
        if not tables or not tables[0].rows:
            raise QueryFailed(f"the requests query returned no rows ({described})")
        table = tables[0]
        return dict(zip(table.columns, list(table.rows[0])))

    def release(self) -> None:
        if self._own and self._client is not None:
            self._client.close()
        if self._credential is not None:
            self._credential.close()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
