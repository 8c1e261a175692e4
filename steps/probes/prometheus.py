"""Prometheus as a metric source: what real users got, from the service's own counters.

Each window lasts its real length (under a scaled clock at least ``min_window_wall_seconds``,
as for the probe) and ends with three instant queries at the window's end time ``T`` over the
window's real length ``W`` (``$window`` in the plan's PromQL becomes ``W`` in milliseconds):

* ``requests`` and ``errors`` -> counts (each query's series summed; ``increase()`` extrapolates
  to the range's edges, so the values are rounded, and errors are capped at requests);
* ``latency_buckets`` -> one series per ``le``: the raw bucket increases, made cumulative in the
  order of ``le``, are the window's ``LatencyHistogram`` (``+Inf`` becomes ``INF_BOUND_MS``, so a
  request slower than the last finite bucket still counts as slow); p50/p95/p99 are read from it
  with ``histogram_quantile``'s rule (linear inside the bucket, the last finite bound for the
  ``+Inf`` bucket). Without it, latency is not judged (percentiles 0);
* ``up`` (optional) -> the share of the window the scrape targets were up; 0 means every scrape of
  the window found the service down: an outage (its counters could not grow, so counts alone
  would say "no traffic", never "down").

It waits ``query_delay`` real seconds after the window before asking, so the scrape that closes
the window is in. A query that fails, or a ``requests`` query with no data (no series matched:
a typo in a label, a service that never served), leaves the window's counts at zero with
``signals.details["unavailable"]`` saying which query and why: the ladder's inconclusive rung
takes it, so a watch never proceeds on data it did not get.
"""

from __future__ import annotations

import math
import time
from typing import Any

import httpx

from odin_drills.plan.telemetry import WINDOW_PLACEHOLDER, PrometheusMetrics
from odin_drills.steps.clock import Clock
from odin_drills.steps.probes.queried import QueriedWindowSource
from odin_drills.steps.snapshot import LatencyHistogram, LatencyPercentiles, Signals, Snapshot

INF_BOUND_MS = 1e15
"""The ``+Inf`` bucket's bound in a journaled histogram (JSON has no infinity): 31,000 years."""


class QueryFailed(RuntimeError):
    """Prometheus did not answer a query, or answered with an error or something unreadable."""


def quantile_from_buckets(q: float, bounds: list[float], cumulative: list[int]) -> float:
    """``histogram_quantile(q, ...)`` on cumulative bucket counts (the last bound may be
    ``INF_BOUND_MS``): linear inside the bucket the rank falls in; 0 with no requests."""
    if not cumulative or cumulative[-1] <= 0:
        return 0.0
    rank = q * cumulative[-1]
    for index, count in enumerate(cumulative):
        if count >= rank:
            upper = bounds[index]
            if upper >= INF_BOUND_MS:
                return bounds[index - 1] if index > 0 else 0.0
            lower = bounds[index - 1] if index > 0 else 0.0
            below = cumulative[index - 1] if index > 0 else 0
            inside = count - below
            if inside <= 0:
                return upper
            return lower + (upper - lower) * (rank - below) / inside
    return bounds[-1]


class PrometheusSource(QueriedWindowSource):
    """A ``MetricSource`` reading one window at a time from Prometheus' HTTP API."""

    def __init__(self, spec: PrometheusMetrics, clock: Clock, *, client: httpx.Client | None = None,
                 wall_now: Any = time.time) -> None:
        super().__init__(spec, clock, wall_now)
        self.spec: PrometheusMetrics = spec
        self.base = str(spec.url).rstrip("/")
        self.name = f"prometheus {self.base}"
        self._own = client is None
        self._client = client or httpx.Client(timeout=spec.timeout, trust_env=False)

    def read_window(self, end: float, seconds: float) -> Snapshot:
        return self.read(end, seconds)

    def read(self, at: float, seconds: float) -> Snapshot:
        """The window ``[at - seconds, at]`` (unix seconds) as a Snapshot."""
        problems: list[str] = []
        requests = errors = 0
        histogram: LatencyHistogram | None = None
        signals = Signals()
        try:
            found = self._sum("requests", self.spec.requests, at, seconds)
            if found is None:
                problems.append(f"the requests query returned no data for the window ({self._text(self.spec.requests, seconds)})")
            else:
                requests = max(0, round(found))
                errors = min(requests, max(0, round(self._sum("errors", self.spec.errors, at, seconds) or 0.0)))
            if self.spec.latency_buckets:
                histogram = self._histogram(at, seconds)
            if self.spec.up:
                up = self._sum("up", self.spec.up, at, seconds, combine=min)
                if up is None:
                    problems.append(f"the up query returned no data for the window ({self._text(self.spec.up, seconds)})")
                elif up <= 0:
                    signals = Signals(outage=True, details={"outage": (
                        f"outage: every scrape of the {seconds:.3g} s window found the service down "
                        f"(up = {up:g}: {self.name})")})
        except QueryFailed as exc:
            problems.append(str(exc))
        if problems:
            signals = signals.model_copy(update={"details": {**signals.details, "unavailable": (
                f"{self.name}: " + "; ".join(problems) + ": not proceeding on data not read")}})
        if histogram is not None and histogram.counts and histogram.counts[-1] > 0:
            bounds, counts = histogram.le_ms, histogram.counts
            latency = LatencyPercentiles(p50=quantile_from_buckets(0.50, bounds, counts),
                                         p95=quantile_from_buckets(0.95, bounds, counts),
                                         p99=quantile_from_buckets(0.99, bounds, counts))
        else:
            histogram, latency = None, LatencyPercentiles(p50=0, p95=0, p99=0)
        return Snapshot(requests=requests, errors=errors, latency_ms=latency, latency_histogram=histogram,
                        signals=signals)

    # -- queries -----------------------------------------------------------------------------

    @staticmethod
    def _text(query: str, seconds: float) -> str:
        return query.replace(WINDOW_PLACEHOLDER, f"{max(1, round(seconds * 1000))}ms")

    def _query(self, what: str, query: str, at: float, seconds: float) -> list[tuple[dict[str, str], float]]:
        text = self._text(query, seconds)
        try:
            response = self._client.get(f"{self.base}/api/v1/query", params={"query": text, "time": f"{at:.3f}"})
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise QueryFailed(f"the {what} query failed ({text}): {type(exc).__name__}: {exc}") from exc
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            raise QueryFailed(f"the {what} query failed ({text}): HTTP {response.status_code}: {error}")
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind == "scalar":
                return [({}, float(result[1]))]
            if kind == "vector":
                return [(dict(item.get("metric") or {}), float(item["value"][1])) for item in result]
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise QueryFailed(f"the {what} query returned something unreadable ({text}): {exc}") from exc
        raise QueryFailed(f"the {what} query must return an instant vector or a scalar, not {kind} ({text})")

    def _sum(self, what: str, query: str, at: float, seconds: float, combine: Any = sum) -> float | None:
        values = [value for _, value in self._query(what, query, at, seconds) if not math.isnan(value)]
        return float(combine(values)) if values else None

    def _histogram(self, at: float, seconds: float) -> LatencyHistogram | None:
        assert self.spec.latency_buckets is not None
        scale = 1000.0 if self.spec.latency_unit == "seconds" else 1.0
        per_bound: dict[float, float] = {}
        for labels, value in self._query("latency_buckets", self.spec.latency_buckets, at, seconds):
            if "le" not in labels:
                raise QueryFailed("the latency_buckets query must keep the le label (sum by (le) (...))")
            bound = float(labels["le"])
            key = INF_BOUND_MS if math.isinf(bound) else bound * scale
            per_bound[key] = per_bound.get(key, 0.0) + (0.0 if math.isnan(value) else value)
        if not per_bound:
            return None
        bounds = sorted(per_bound)
        counts: list[int] = []
        for bound in bounds:  # cumulative by construction; rounding must not make it decrease
            counts.append(max(round(per_bound[bound]), counts[-1] if counts else 0))
        return LatencyHistogram(le_ms=bounds, counts=counts)

    def release(self) -> None:
        if self._own:
            self._client.close()
