"""Issue 10: time to judge one window from each metric source, at 100 and 1,000 req/s of telemetry.

For each source, the wall time from the end of a window to its ``Decision``: reading that window
(``read_window``) plus ``steps.gates.evaluate`` against a baseline, over a window of W seconds of
telemetry at R requests/second (R x W requests in the window). The configured ingestion wait
(``query_delay``) is left out: it is a setting, the same at every volume.

* ``prometheus``: ``PrometheusSource.read_window`` (four instant queries: requests, errors, the
  latency buckets, up) against a real Prometheus (the Debian binary, its own process, stopped by
  PID) scraping one exporter per rate every ``--scrape`` seconds. The exporters (prometheus-client,
  in this process) serve synthetic counters that grow at exactly R req/s (0.5 % 5xx) with a
  15-bucket latency histogram: a counter's cost in Prometheus does not grow with the rate, so no
  real traffic is sent. Each repetition reads the window that just ended (end = now - 1.5 scrapes).
* ``azure_monitor``: ``AzureMonitorSource.read_window`` through the real ``LogsQueryClient`` (HTTPS,
  sandbox CA and token) against the Azure sandbox's Log Analytics endpoint (in this process, as the
  tests run it). R x W request rows are written straight into the sandbox's telemetry store
  (``RequestTelemetry.add``), not sent as HTTP requests; while a cell is timed the store holds that
  cell's window only (the endpoint scans the whole store, so a fuller store costs more).
* ``azure_monitor_metrics``: ``AzureMonitorMetricsSource.read_window`` through the real
  ``MetricsClient`` (azure-monitor-querymetrics; HTTPS, sandbox CA and token) against the sandbox's
  regional ``metrics:getBatch`` endpoint, which aggregates the same telemetry store per minute
  (Requests, Http5xx, HttpResponseTime for eastus' web app): the same rows as ``azure_monitor``.
* ``synthetic_probe``: the probe measures in-process, so there is no read: the cost is what
  ``SyntheticProbeSource.measure`` does once its window's requests are in (sort the R x W
  latencies, three nearest ranks, the ``Snapshot`` with its samples) plus ``evaluate``.

Baselines: the synthetic probe's and Azure Monitor's are another window of the same volume (other
seed); Prometheus' is the same window read once before timing (its counters are deterministic).
Latencies are seeded lognormal (median 8 ms), so every cell should end ``proceed``.

    .venv/bin/python bench/judge_sources.py [--rates 100,1000] [--windows 60,300] [--reps 20]
        [--scrape 1] [--out bench/results/judge_sources.md]

Prometheus needs max(--windows) seconds of scraped history before its first read: the
synthetic-probe and Azure phases run while it accumulates (with --windows 60,300 the run lasts
about 5.5 minutes, mostly waiting).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "judge_sources.md"
SOURCES = ("prometheus", "azure_monitor", "azure_monitor_metrics", "synthetic_probe")
ERROR_SHARE = 0.005
MEDIAN_MS = 8.0
SIGMA = 0.5
PROM_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


@dataclass
class Cell:
    source: str
    rate: int
    window: int
    total_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    evaluate_ms: list[float] = field(default_factory=list)
    requests: int = 0
    decisions: set[str] = field(default_factory=set)
    reason: str = ""

    def row(self) -> dict[str, Any]:
        return {"source": self.source, "rate": self.rate, "window": self.window, "requests_expected": self.rate * self.window,
                "requests_read": self.requests, "reps": len(self.total_ms), "decisions": sorted(self.decisions), "reason": self.reason,
                "median_ms": _median(self.total_ms), "p95_ms": _p95(self.total_ms),
                "read_median_ms": _median(self.read_ms), "evaluate_median_ms": _median(self.evaluate_ms)}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1] if ordered else float("nan")


def _latencies(rng: random.Random, n: int) -> list[float]:
    mu = math.log(MEDIAN_MS)
    return [round(rng.lognormvariate(mu, SIGMA), 3) for _ in range(n)]


def _load() -> tuple[float, float, float]:
    return os.getloadavg()


def _timed(cell: Cell, read: Any, baseline: Any) -> None:
    from odin_drills.plan.policy import Policy
    from odin_drills.steps.gates import evaluate

    t0 = time.perf_counter()
    snapshot = read()
    t1 = time.perf_counter()
    decision = evaluate(baseline, snapshot, Policy())
    t2 = time.perf_counter()
    cell.read_ms.append((t1 - t0) * 1000)
    cell.evaluate_ms.append((t2 - t1) * 1000)
    cell.total_ms.append((t2 - t0) * 1000)
    cell.requests = snapshot.requests
    cell.decisions.add(decision.decision)
    cell.reason = cell.reason or "; ".join(decision.reasons)
    if "unavailable" in snapshot.signals.details:
        raise RuntimeError(f"{cell.source}: {snapshot.signals.details['unavailable']}")


def _warm() -> None:
    """One untimed judgement of each kind first: lazy imports (scipy) are not a window's cost."""
    from odin_drills.plan.policy import Policy
    from odin_drills.steps.gates import evaluate
    from odin_drills.steps.snapshot import LatencyHistogram, LatencyPercentiles, Snapshot

    rng = random.Random(7)
    evaluate(synthetic_snapshot(_latencies(rng, 500), 2), synthetic_snapshot(_latencies(rng, 500), 3), Policy())
    histogram = LatencyHistogram(le_ms=[5.0, 25.0, 1e15], counts=[100, 480, 500])
    binned = Snapshot(requests=500, errors=2, latency_ms=LatencyPercentiles(p50=8, p95=20, p99=30),
                      latency_histogram=histogram)
    evaluate(binned, binned, Policy())


# ------------------------------------------------------------------------------ synthetic probe

def synthetic_snapshot(latencies: list[float], errors: int) -> Any:
    """What ``SyntheticProbeSource.measure`` builds once its window's requests are in."""
    from odin_drills.steps.probes.synthetic import nearest_rank
    from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot

    ordered = sorted(latencies)
    return Snapshot(requests=len(latencies), errors=errors,
                    latency_ms=LatencyPercentiles(p50=nearest_rank(ordered, 50), p95=nearest_rank(ordered, 95),
                                                  p99=nearest_rank(ordered, 99)),
                    latency_samples_ms=latencies)


def run_synthetic(cells: list[Cell], reps: int) -> None:
    prepared = []
    for cell in cells:
        n = cell.rate * cell.window
        rng = random.Random(1000 + n)
        baseline = synthetic_snapshot(_latencies(rng, n), round(n * ERROR_SHARE))
        current = _latencies(rng, n)
        prepared.append((cell, baseline, current, round(n * ERROR_SHARE)))
    for _ in range(reps):  # cells side by side, repetition after repetition
        for cell, baseline, current, errors in prepared:
            _timed(cell, lambda: synthetic_snapshot(current, errors), baseline)


# ------------------------------------------------------------------------------ Azure Monitor

def run_azure(cells: list[Cell], reps: int, workdir: Path, kind: str = "azure_monitor") -> None:
    """``kind`` azure_monitor: Log Analytics (KQL); azure_monitor_metrics: platform metrics (getBatch).
    Both endpoints read the same telemetry store, so both cells see the same rows."""
    from odin_drills.plan.azure_monitor import AzureMonitorMetrics
    from odin_drills.plan.azure_platform_metrics import AzureMonitorPlatformMetrics
    from odin_drills.sandbox.azure import AzureSandbox
    from odin_drills.sandbox.azure.log_analytics import ROLE_NAME, RequestRecord
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.probes.azure_monitor import AzureMonitorSource
    from odin_drills.steps.probes.azure_monitor_metrics import AzureMonitorMetricsSource

    state = workdir / f"sandbox-{kind}"
    sandbox = AzureSandbox(state_dir=state, seed=3)
    previous = os.environ.get("ODIN_SANDBOX_INFO")
    source = None
    try:
        sandbox.start()
        os.environ["ODIN_SANDBOX_INFO"] = str(state / "sandbox.json")
        started = time.time()
        target = SimpleNamespace(kind="sandbox", ca_cert=None)
        if kind == "azure_monitor":
            spec = AzureMonitorMetrics.model_validate({"kind": "azure_monitor", "role": ROLE_NAME, "query_delay": 0,
                                                       "timeout": 60})
            source = AzureMonitorSource(spec, ScaledClock(1.0), target=target)
        else:
            platform_spec = AzureMonitorPlatformMetrics.model_validate(
                {"kind": "azure_monitor_metrics", "region": "eastus", "query_delay": 0, "timeout": 60})
            source = AzureMonitorMetricsSource(platform_spec, ScaledClock(1.0), target=target)
        for cell in cells:
            n = cell.rate * cell.window
            end = started - 60.0  # before the sandbox's own health probes: the window holds our rows only
            rng = random.Random(2000 + n)
            baseline = None
            for lo in (end - 2 * cell.window, end - cell.window):  # the baseline window, then the current one
                sandbox.telemetry.clear()  # the store holds one window at a time (300 s x 1,000 req/s twice
                durations = _latencies(rng, n)  # would pass its MAX_RECORDS)
                failing = set(rng.sample(range(n), round(n * ERROR_SHARE)))
                for i, duration in enumerate(durations):
                    sandbox.telemetry.add(RequestRecord(at=lo + (i + 0.5) / cell.rate, duration_ms=duration,
                                                        result_code=500 if i in failing else 200,
                                                        region="eastus", name="GET /health"))
                if baseline is None:
                    baseline = source.read_window(lo + cell.window, cell.window)  # also warms the connection
                    if baseline.requests != n:
                        raise RuntimeError(f"{kind} baseline read {baseline.requests} requests, not {n}: "
                                           f"{baseline.signals.details}")
            for _ in range(reps):
                _timed(cell, lambda: source.read_window(end, cell.window), baseline)
            if cell.requests != n:
                raise RuntimeError(f"{kind} read {cell.requests} requests, not {n}")
    finally:
        if source is not None:
            source.close()
        sandbox.stop()
        if previous is None:
            os.environ.pop("ODIN_SANDBOX_INFO", None)
        else:
            os.environ["ODIN_SANDBOX_INFO"] = previous


# ------------------------------------------------------------------------------ Prometheus

class SyntheticTraffic:
    """A prometheus-client collector whose counters grow at exactly ``rate`` req/s since ``t0``."""

    def __init__(self, rate: float, t0: float) -> None:
        self.rate, self.t0 = rate, t0
        mu = math.log(MEDIAN_MS / 1000)
        self.shares = [0.5 * (1 + math.erf((math.log(b) - mu) / (SIGMA * math.sqrt(2)))) for b in PROM_BUCKETS_S]

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        total = self.rate * (time.time() - self.t0)
        counter = CounterMetricFamily("http_requests", "Requests served", labels=["code"])
        counter.add_metric(["200"], total * (1 - ERROR_SHARE))
        counter.add_metric(["500"], total * ERROR_SHARE)
        yield counter
        buckets = [(str(b), total * share) for b, share in zip(PROM_BUCKETS_S, self.shares)] + [("+Inf", total)]
        yield HistogramMetricFamily("http_request_duration_seconds", "Request latency", buckets=buckets,
                                    sum_value=total * MEDIAN_MS / 1000)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """The Debian ``prometheus`` binary in its own process group, stopped by its PID."""

    def __init__(self, folder: Path, targets: dict[str, int], interval: float) -> None:
        exe = shutil.which("prometheus") or "/usr/bin/prometheus"
        if not os.path.exists(exe):
            raise RuntimeError("prometheus is not installed: apt-get install -y prometheus")
        folder.mkdir(parents=True, exist_ok=True)
        every = f"{round(interval * 1000)}ms"
        config = {"global": {"scrape_interval": every, "scrape_timeout": f"{round(interval * 800)}ms"},
                  "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                                     for job, port in targets.items()]}
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "prometheus.log"
        argv = [exe, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/-/ready", timeout=1.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready after {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


class PrometheusSetup:
    """Exporters (one per rate) and a Prometheus scraping them; ``close`` stops all of it."""

    def __init__(self, rates: list[int], workdir: Path, interval: float) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self.interval = interval
        self.exporters: list[Any] = []
        self.prometheus: Prometheus | None = None
        try:
            targets = {}
            t0 = time.time()
            for rate in rates:
                registry = CollectorRegistry(auto_describe=False)
                registry.register(SyntheticTraffic(rate, t0))
                port = _free_port()
                server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
                self.exporters.append(server)
                targets[f"r{rate}"] = port
            self.prometheus = Prometheus(workdir / "prometheus", targets, interval)
            self.prometheus.wait_ready()
            self.jobs = list(targets)
            self.started: float | None = None
        except BaseException:
            self.close()
            raise

    def wait_scraped(self, timeout: float = 60.0) -> float:
        """When every job had its first scrape (Prometheus' discovery takes a few seconds after start)."""
        import httpx

        assert self.prometheus is not None
        deadline = time.monotonic() + timeout
        while self.started is None:
            found = 0
            for job in self.jobs:
                body = httpx.get(self.prometheus.url + "/api/v1/query", trust_env=False,
                                 params={"query": f'count_over_time(up{{job="{job}"}}[1h])'}).json()
                result = body.get("data", {}).get("result", [])
                found += bool(result) and float(result[0]["value"][1]) >= 1
            if found == len(self.jobs):
                self.started = time.time()
            elif time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not scrape {self.jobs} within {timeout} s")
            else:
                time.sleep(0.2)
        return self.started

    def close(self) -> None:
        try:
            if self.prometheus is not None:
                self.prometheus.stop()
        finally:
            for server in self.exporters:
                server.shutdown()
                server.server_close()


def run_prometheus(setup: PrometheusSetup, cells: list[Cell], reps: int) -> None:
    from odin_drills.plan.telemetry import PrometheusMetrics
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.probes.prometheus import PrometheusSource

    assert setup.prometheus is not None
    lag = 1.5 * setup.interval
    ready_at = setup.wait_scraped() + max(cell.window for cell in cells) + 2 * setup.interval + lag
    if time.time() < ready_at:
        time.sleep(ready_at - time.time())
    sources = {}
    try:
        prepared = []
        for cell in cells:
            job = f'job="r{cell.rate}"'
            spec = PrometheusMetrics.model_validate({
                "kind": "prometheus", "url": setup.prometheus.url, "query_delay": 0, "timeout": 30,
                "requests": f"sum(increase(http_requests_total{{{job}}}[$window]))",
                "errors": f'sum(increase(http_requests_total{{{job},code="500"}}[$window]))',
                "latency_buckets": f"sum by (le) (increase(http_request_duration_seconds_bucket{{{job}}}[$window]))",
                "up": f"min(min_over_time(up{{{job}}}[$window]))"})
            source = sources[(cell.rate, cell.window)] = PrometheusSource(spec, ScaledClock(1.0))
            baseline = source.read_window(time.time() - lag, cell.window)
            if "unavailable" in baseline.signals.details:
                raise RuntimeError(f"prometheus: {baseline.signals.details['unavailable']}")
            prepared.append((cell, source, baseline))
        for _ in range(reps):
            for cell, source, baseline in prepared:
                _timed(cell, lambda: source.read_window(time.time() - lag, cell.window), baseline)
    finally:
        for source in sources.values():
            source.close()


# ------------------------------------------------------------------------------ the run

def run(rates: list[int], windows: list[int], reps: int, scrape: float = 1.0,
        out: Path | None = RESULTS) -> dict[str, Any]:
    """Every cell, side by side in one run; writes ``out`` (Markdown) when given. Returns the rows."""
    load_start = _load()
    began = datetime.now(timezone.utc)
    cells = {s: [Cell(s, r, w) for w in windows for r in rates] for s in SOURCES}
    phases: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    with tempfile.TemporaryDirectory(prefix="odin-judge-bench-") as tmp:
        workdir = Path(tmp)
        setup = PrometheusSetup(rates, workdir, scrape)  # first: it gathers history while the others run
        try:
            setup.wait_scraped()
            _warm()
            for name, phase in (("synthetic_probe", lambda: run_synthetic(cells["synthetic_probe"], reps)),
                                ("azure_monitor", lambda: run_azure(cells["azure_monitor"], reps, workdir)),
                                ("azure_monitor_metrics", lambda: run_azure(cells["azure_monitor_metrics"], reps,
                                                                            workdir, "azure_monitor_metrics")),
                                ("prometheus", lambda: run_prometheus(setup, cells["prometheus"], reps))):
                before = _load()
                phase()
                phases[name] = (before, _load())
        finally:
            setup.close()
    result = {"began": began, "pids": [setup.prometheus.pid] if setup.prometheus else [], "load_start": load_start, "load_end": _load(), "phases": phases, "reps": reps,
              "scrape": scrape, "rates": rates, "windows": windows,
              "rows": [cell.row() for s in SOURCES for cell in cells[s]]}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(result))
    return result


def render(result: dict[str, Any]) -> str:
    la = lambda t: f"{t[0]:.2f}"  # noqa: E731
    args = f"--rates {','.join(map(str, result['rates']))} --windows {','.join(map(str, result['windows']))} " \
           f"--reps {result['reps']} --scrape {result['scrape']:g}"
    lines = [
        "# Time to judge one window, per metric source",
        "",
        f"{result['began']:%Y-%m-%d %H:%M} UTC, CPython {platform.python_version()}, {os.cpu_count()} cores shared "
        f"with other work (load average at start {la(result['load_start'])}, at end {la(result['load_end'])}; "
        "per phase: " + ", ".join(f"{name} {la(b)} → {la(a)}" for name, (b, a) in result["phases"].items()) + "). "
        f"{result['reps']} repetitions per cell, fixed seeds. "
        f"Reproduce: `.venv/bin/python bench/judge_sources.py {args}`.",
        "",
        "Wall time from the end of the window to the `Decision`: the source's read of the window plus "
        "`steps.gates.evaluate` against a baseline (the configured `query_delay`, an ingestion wait, is not in it).",
        "",
        "| source | req/s | window, s | requests in window | read | median ms | p95 ms | of which read, median ms "
        "| evaluate, median ms | decision |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    how = {"prometheus": "4 PromQL queries", "azure_monitor": "1 KQL query (HTTPS)",
           "azure_monitor_metrics": "1 metrics:getBatch (HTTPS)", "synthetic_probe": "in-process"}
    for row in result["rows"]:
        lines.append(f"| {row['source']} | {row['rate']:,} | {row['window']} | {row['requests_read']:,} | {how[row['source']]} "
                     f"| {row['median_ms']:.1f} | {row['p95_ms']:.1f} | {row['read_median_ms']:.1f} "
                     f"| {row['evaluate_median_ms']:.1f} | {', '.join(row['decisions'])} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,1000")
    parser.add_argument("--windows", default="60,300")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--scrape", type=float, default=1.0, help="Prometheus' scrape interval, seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = run([int(r) for r in args.rates.split(",")], [int(w) for w in args.windows.split(",")], args.reps,
                 args.scrape, args.out)
    print(render(result))


if __name__ == "__main__":
    main()
