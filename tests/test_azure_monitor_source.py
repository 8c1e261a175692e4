"""Application Insights as the metric source: the real ``LogsQueryClient`` (azure-monitor-query)
over HTTPS against the sandbox's Log Analytics endpoint, which serves the request telemetry the
sandbox's demo apps recorded from real traffic. Nothing in the SDK is patched; only plan time is
scaled. Every sandbox and load thread a test starts is stopped in a ``finally``/``with``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from odin_drills.plan.azure_monitor import AzureMonitorMetrics
from odin_drills.plan.policy import Policy
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.probes.azure_monitor import AzureMonitorSource
from odin_drills.steps.probes.open import open_metric_source
from odin_drills.steps.probes.prometheus import INF_BOUND_MS
from odin_drills.steps.snapshot import Snapshot
from tests.monitoring_servers import Load, wait_until

BUCKETS = [1.0, 5.0, 25.0, 250.0]
SANDBOX_TARGET = SimpleNamespace(kind="sandbox", ca_cert=None)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureSandbox]:
    sb = AzureSandbox(state_dir=tmp_path / "sandbox", seed=3, probe_interval_seconds=0.5).start()
    try:
        monkeypatch.setenv("ODIN_SANDBOX_INFO", str(tmp_path / "sandbox" / "sandbox.json"))
        yield sb
    finally:
        sb.stop()


def source(clock: ScaledClock, **overrides: object) -> AzureMonitorSource:
    spec = AzureMonitorMetrics.model_validate({"kind": "azure_monitor", "role": "odin-demo", "query_delay": 0,
                                               "latency_buckets_ms": BUCKETS, "min_window_wall_seconds": 3.0,
                                               "timeout": 10, **overrides})
    return AzureMonitorSource(spec, clock, target=SANDBOX_TARGET)


def test_a_window_matches_the_demo_apps_own_telemetry(sandbox: AzureSandbox) -> None:
    url = sandbox.info()["regions"]["eastus"]
    sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 0.2})
    start = time.time()
    statuses = []
    with httpx.Client(timeout=5, trust_env=False) as client:
        for _ in range(120):
            statuses.append(client.get(f"{url}/health").status_code)
    end = time.time() + 0.001
    truth = sandbox.telemetry.between(start, end)  # the demo's own record of what it served
    am = source(ScaledClock(scale=300))
    try:
        window = am.read(start, end)
    finally:
        am.close()
    assert window.signals.details == {}, window.signals.details
    assert window.requests == len(truth) >= 120  # ours, plus the edge's health probes
    assert window.errors == sum(1 for r in truth if r.result_code >= 400) >= statuses.count(500) > 0
    histogram = window.latency_histogram
    assert histogram is not None and histogram.le_ms == [*BUCKETS, INF_BOUND_MS]
    assert histogram.counts == [sum(1 for r in truth if r.duration_ms <= b) for b in BUCKETS] + [len(truth)]
    durations = sorted(r.duration_ms for r in truth)
    assert window.latency_ms.p50 == durations[(len(durations) + 1) // 2 - 1]  # nearest rank
    assert 0 < window.latency_ms.p50 <= window.latency_ms.p95 <= window.latency_ms.p99


def test_an_injected_error_rate_makes_the_sequential_judge_roll_back(sandbox: AzureSandbox) -> None:
    url = sandbox.info()["regions"]["eastus"]
    clock = ScaledClock(scale=300)
    am = open_metric_source(SimpleNamespace(metrics=AzureMonitorMetrics.model_validate(
        {"kind": "azure_monitor", "query_delay": 0, "min_window_wall_seconds": 3.0}), target=SANDBOX_TARGET), clock)
    assert isinstance(am, AzureMonitorSource)  # open_metric_source picks it from metrics.kind
    journal = MemoryJournal()
    try:
        with Load(f"{url}/health"):
            baseline = am.measure(1200)  # 4 real seconds, healthy
            sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 0.3})
            verdict = Judge(source=am, baseline=baseline, policy=Policy(), journal=journal,
                            clock=clock).watch(900, phase="t0", step="shift-100", interval=300)
    finally:
        am.close()
    assert baseline.requests >= 150 and baseline.errors / baseline.requests < 0.02, baseline
    assert baseline.source.startswith("azure_monitor AppRequests in workspace ")
    assert verdict.action == "rollback", verdict.reason
    assert "error rate" in verdict.reason and "e-value" in verdict.reason
    assert verdict.windows <= 2
    gate = [fields for kind, fields in journal.entries if kind == "gate"][-1]
    assert gate["snapshot"]["latency_histogram"] is not None  # the sequential judge got a histogram


def test_no_telemetry_in_the_window_is_inconclusive_and_names_the_query(sandbox: AzureSandbox) -> None:
    am = source(ScaledClock(scale=300))
    try:
        quiet = am.read(time.time() - 7200, time.time() - 3600)  # before the sandbox existed
    finally:
        am.close()
    said = quiet.signals.details["unavailable"]
    assert "the requests query found no requests in the window (AppRequests, role odin-demo, " in said
    assert said.endswith("not proceeding on data not read")
    baseline = Snapshot(requests=10_000, errors=100, latency_ms={"p50": 8, "p95": 14, "p99": 20})
    decision = evaluate(baseline, quiet, Policy())
    assert decision.decision == "inconclusive" and said in decision.reasons


def test_a_failing_query_is_inconclusive_never_proceed(sandbox: AzureSandbox) -> None:
    am = source(ScaledClock(scale=300), workspace_id="00000000-0000-4000-8000-000000000000")
    try:
        window = am.read(time.time() - 5, time.time())
    finally:
        am.close()
    said = window.signals.details["unavailable"]
    assert "the requests query failed (AppRequests, role odin-demo" in said and "WorkspaceNotFoundError" in said
    baseline = Snapshot(requests=10_000, errors=100, latency_ms={"p50": 8, "p95": 14, "p99": 20})
    assert evaluate(baseline, window, Policy()).decision == "inconclusive"


def test_a_sandbox_not_yet_running_is_unavailable_then_found_on_a_later_window(
        sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    info = sandbox.info()  # the fixture's sandbox is up; hide it as if it had not started yet
    hidden = os.environ["ODIN_SANDBOX_INFO"]
    monkeypatch.delenv("ODIN_SANDBOX_INFO")
    am = source(ScaledClock(scale=300))
    try:
        before = am.read(time.time() - 5, time.time())
        monkeypatch.setenv("ODIN_SANDBOX_INFO", hidden)  # the run's sandbox is up now
        start = time.time()
        with httpx.Client(trust_env=False) as client:
            for _ in range(10):
                client.get(info["regions"]["westus"] + "/health")
        after = am.read(start, time.time())
    finally:
        am.close()
    assert "the sandbox's Log Analytics workspace is unknown" in before.signals.details["unavailable"]
    assert after.signals.details == {} and after.requests >= 10
    assert am.name == f"azure_monitor AppRequests in workspace {info['log_analytics_workspace_id']}"


def test_the_error_budget_is_read_from_application_insights_over_the_scaled_slo_window(sandbox: AzureSandbox) -> None:
    """The same four-tier gate as with Prometheus, from the sandbox's request telemetry: clean
    traffic leaves the budget whole; a region failing every request spends it."""
    from odin_drills.plan.slo import ErrorBudgetPolicy
    from odin_drills.steps.slo import budget_gate, read_budget

    slo = ErrorBudgetPolicy(availability=99.0)
    url = sandbox.info()["regions"]["eastus"]
    am = source(ScaledClock(scale=30 * 86400 / 4))  # the 30-day SLO window: 4 real seconds
    try:
        with Load(f"{url}/health"):
            wait_until(lambda: read_budget(slo, am)[0].requests > 100, what="4 s of telemetry")
            clean, clean_unavailable = read_budget(slo, am)
            sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 1.0})
            wait_until(lambda: read_budget(slo, am)[0].tier == "exhausted", timeout=30, what="the budget to be spent")
            spent, unavailable = read_budget(slo, am)
    finally:
        am.close()
    assert clean_unavailable is None and clean.tier == "normal", clean
    assert unavailable is None and spent.errors > spent.allowed > 0
    ok, said = budget_gate(spent, slo)
    assert not ok and f"{spent.errors:,} failed of {spent.requests:,} requests over the 30-day SLO window" in said
