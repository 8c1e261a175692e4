"""Azure Monitor platform metrics as the metric source: the real ``MetricsClient``
(azure-monitor-querymetrics) over HTTPS against the sandbox's regional metrics endpoints, which count
the requests the sandbox's regional web apps really served. Nothing in the SDK is patched; only plan
time is scaled. Every sandbox and load thread a test starts is stopped in a ``finally``/``with``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from odin_drills.plan.azure_platform_metrics import AzureMonitorPlatformMetrics
from odin_drills.plan.policy import Policy
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.probes.azure_monitor_metrics import AzureMonitorMetricsSource
from odin_drills.steps.probes.open import open_metric_source
from odin_drills.steps.snapshot import Snapshot
from tests.monitoring_servers import Load

SANDBOX_TARGET = SimpleNamespace(kind="sandbox", ca_cert=None)
BASELINE = Snapshot(requests=10_000, errors=100, latency_ms={"p50": 8, "p95": 14, "p99": 20})


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureSandbox]:
    sb = AzureSandbox(state_dir=tmp_path / "sandbox", seed=3, probe_interval_seconds=0.5).start()
    try:
        monkeypatch.setenv("ODIN_SANDBOX_INFO", str(tmp_path / "sandbox" / "sandbox.json"))
        yield sb
    finally:
        sb.stop()


def source(clock: ScaledClock, **overrides: object) -> AzureMonitorMetricsSource:
    spec = AzureMonitorPlatformMetrics.model_validate({"kind": "azure_monitor_metrics", "query_delay": 0,
                                                       "min_window_wall_seconds": 3.0, "timeout": 10, **overrides})
    return AzureMonitorMetricsSource(spec, clock, target=SANDBOX_TARGET)


def test_requests_and_injected_5xx_show_up_in_the_window(sandbox: AzureSandbox) -> None:
    info = sandbox.info()
    sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 0.25})
    start = time.time()
    statuses = []
    with httpx.Client(timeout=5, trust_env=False) as client:
        for _ in range(80):
            statuses.append(client.get(info["regions"]["eastus"] + "/health").status_code)
        for _ in range(20):
            statuses.append(client.get(info["regions"]["westus"] + "/api/orders/no-such-order").status_code)
    end = time.time() + 0.001
    time.sleep(1.0)  # an edge health probe in flight at `end` is recorded when it finishes, stamped before it
    truth = sandbox.telemetry.between(start, end)  # the apps' own record of what they served
    five, four = source(ScaledClock(scale=300)), source(ScaledClock(scale=300), failed_metrics=["Http4xx", "Http5xx"])
    try:
        window, with_4xx = five.read(start, end), four.read(start, end)
    finally:
        five.close()
        four.close()
    assert window.signals.details == {} and with_4xx.signals.details == {}, window.signals.details
    assert window.requests == len(truth) >= 100  # ours, plus the edge's health probes, in both regions
    assert window.errors == sum(1 for r in truth if r.result_code >= 500) >= statuses.count(500) > 0
    assert with_4xx.errors == sum(1 for r in truth if r.result_code >= 400) >= window.errors + statuses.count(404)
    assert statuses.count(404) == 20
    mean = sum(r.duration_ms for r in truth) / len(truth)
    assert window.latency_ms.p50 == window.latency_ms.p95 == window.latency_ms.p99 == pytest.approx(mean)
    assert window.latency_histogram is None and window.latency_samples_ms is None  # no distribution: none invented
    assert five.name == ("azure_monitor_metrics Microsoft.Web/sites (2 resources in eastus, westus, mean latency "
                         "from HttpResponseTime)")


def test_one_regions_resources_only(sandbox: AzureSandbox) -> None:
    info = sandbox.info()
    start = time.time()
    with httpx.Client(timeout=5, trust_env=False) as client:
        for _ in range(30):
            client.get(info["regions"]["westus"] + "/health")
    end = time.time() + 0.001
    time.sleep(1.0)  # an edge health probe in flight at `end` is recorded when it finishes, stamped before it
    west = source(ScaledClock(scale=300), region="westus",
                  resource_ids=[info["resources"]["web_apps"]["westus"]], latency_metric=None)
    try:
        window = west.read(start, end)
    finally:
        west.close()
    truth = [r for r in sandbox.telemetry.between(start, end) if r.region == "westus"]
    assert window.requests == len(truth) >= 30 and window.latency_ms.p95 == 0  # latency not asked for
    assert west.name == "azure_monitor_metrics Microsoft.Web/sites (1 resource in westus)"


def test_a_window_with_no_data_is_inconclusive_and_says_why(sandbox: AzureSandbox) -> None:
    pm = source(ScaledClock(scale=300))
    try:
        quiet = pm.read(time.time() - 7200, time.time() - 3600)  # before the sandbox existed
    finally:
        pm.close()
    said = quiet.signals.details["unavailable"]
    assert quiet.requests == quiet.errors == 0
    assert "the metrics query returned no data points (Requests, Http5xx, HttpResponseTime of Microsoft.Web/sites, " \
        in said and said.endswith("not proceeding on data not read")
    decision = evaluate(BASELINE, quiet, Policy())
    assert decision.decision == "inconclusive" and said in decision.reasons


def test_a_refused_query_is_inconclusive_and_names_azures_error(sandbox: AzureSandbox) -> None:
    pm = source(ScaledClock(scale=300), failed_metrics=["Http5xxx"])
    try:
        window = pm.read(time.time() - 5, time.time())
    finally:
        pm.close()
    said = window.signals.details["unavailable"]
    assert "the metrics query failed in eastus (Requests, Http5xxx, HttpResponseTime of Microsoft.Web/sites" in said
    assert "HttpResponseError" in said and "Failed to find metric configuration" in said and "metric: Http5xxx" in said
    assert evaluate(BASELINE, window, Policy()).decision == "inconclusive"


def test_a_sandbox_not_running_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ODIN_SANDBOX_INFO", raising=False)
    pm = source(ScaledClock(scale=300))
    try:
        window = pm.read(time.time() - 5, time.time())
    finally:
        pm.close()
    assert "the sandbox's metrics endpoint is unknown" in window.signals.details["unavailable"]


def test_an_injected_error_rate_makes_the_sequential_judge_roll_back(sandbox: AzureSandbox) -> None:
    url = sandbox.info()["regions"]["eastus"]
    clock = ScaledClock(scale=300)
    pm = open_metric_source(SimpleNamespace(metrics=AzureMonitorPlatformMetrics.model_validate(
        {"kind": "azure_monitor_metrics", "query_delay": 0, "min_window_wall_seconds": 3.0}),
        target=SANDBOX_TARGET), clock)
    assert isinstance(pm, AzureMonitorMetricsSource)  # open_metric_source picks it from metrics.kind
    journal = MemoryJournal()
    try:
        with Load(f"{url}/health"):
            baseline = pm.measure(1200)  # 4 real seconds, healthy
            sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 0.3})
            verdict = Judge(source=pm, baseline=baseline, policy=Policy(), journal=journal,
                            clock=clock).watch(900, phase="t0", step="shift-100", interval=300)
    finally:
        pm.close()
    assert baseline.requests >= 150 and baseline.errors / baseline.requests < 0.02, baseline
    assert baseline.source.startswith("azure_monitor_metrics Microsoft.Web/sites (2 resources in eastus, westus")
    assert verdict.action == "rollback", verdict.reason
    assert "error rate" in verdict.reason
    assert verdict.windows <= 2


def test_long_reads_ask_for_a_coarser_grain_azure_keeps() -> None:
    from odin_drills.steps.probes.azure_monitor_metrics import grain_for

    assert grain_for(60, 300) == 60  # a window: the plan's grain
    assert grain_for(60, 30 * 86400) == 1800  # a 30-day SLO window: 1,440 points, not 43,200
    assert grain_for(300, 3600) == 300 and grain_for(60, 10**9) == 86400
