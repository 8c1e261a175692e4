"""Prometheus as the metric source, against a real Prometheus scraping the real demo service.

The demo exports ``/_admin/metrics`` with the official prometheus-client; a real Prometheus
(Debian package ``prometheus``) scrapes it every 500 ms; a background thread sends the demo real
traffic; ``PrometheusSource`` judges windows from PromQL. Only plan time is scaled. Every process
is stopped by its PID (``tests/monitoring_servers.py``); without the binary the tests fail under
``CI`` and skip elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from odin_drills.plan.policy import Policy
from odin_drills.plan.telemetry import PrometheusMetrics
from odin_drills.sandbox.bluegreen import BlueGreenDemo
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.probes.prometheus import INF_BOUND_MS, PrometheusSource, quantile_from_buckets
from tests.monitoring_servers import Load, prometheus, scraped, wait_until

JOB = "demo"
QUERIES = {
    "requests": f'sum(increase(odin_demo_requests_total{{job="{JOB}"}}[$window]))',
    "errors": f'sum(increase(odin_demo_requests_total{{job="{JOB}",code=~"5.."}}[$window]))',
    "latency_buckets": f'sum by (le) (increase(odin_demo_request_duration_seconds_bucket{{job="{JOB}"}}[$window]))',
    "up": f'avg(avg_over_time(up{{job="{JOB}"}}[$window]))',
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[BlueGreenDemo, str]]:
    demo = BlueGreenDemo(seed=5, port=0, error_rate=0.01).start()
    try:
        with prometheus(tmp_path / "prometheus", {JOB: {"target": f"127.0.0.1:{demo.port}", "path": "/_admin/metrics"}}) as url, \
                Load(demo.router_url + "/api/orders/7"):
            wait_until(lambda: scraped(url, JOB), what="Prometheus to scrape the demo")
            yield demo, url
    finally:
        demo.stop()


def source(url: str, clock: ScaledClock, **overrides: object) -> PrometheusSource:
    spec = PrometheusMetrics.model_validate({"kind": "prometheus", "url": url, **QUERIES, "query_delay": 1.0,
                                             "min_window_wall_seconds": 3.0, **overrides})
    return PrometheusSource(spec, clock)


def test_prometheus_window_matches_the_demo_and_carries_a_histogram(stack):
    demo, url = stack
    clock = ScaledClock(scale=300)
    prom = source(url, clock)
    try:
        served_before = demo.stats()["router"]["requests"]
        window = prom.measure(900)  # 3 real seconds
        served_after = demo.stats()["router"]["requests"]
    finally:
        prom.close()
    served = served_after - served_before  # the demo's own count over the window and the query delay
    assert window.source == f"prometheus {url}"
    assert window.signals.details == {}, window.signals.details
    expected = served * 3 / 4  # the query covers the 3 s window, the demo counted the 1 s delay too
    assert 0.6 * expected <= window.requests <= 1.4 * expected, (window.requests, served)
    assert window.errors <= window.requests * 0.1
    histogram = window.latency_histogram
    assert histogram is not None and histogram.le_ms[-1] == INF_BOUND_MS
    assert abs(histogram.counts[-1] - window.requests) <= max(3, window.requests * 0.05)
    assert 2.0 <= window.latency_ms.p95 <= 100.0  # the demo's lognormal, median 8 ms


def test_the_judge_rolls_back_from_prometheus_on_the_same_breach_as_with_the_probe(stack):
    demo, url = stack
    clock = ScaledClock(scale=300)
    prom = source(url, clock)
    try:
        baseline = prom.measure(1200)  # 4 real seconds at 1 %
        demo.add_fault("blue", error_rate=0.3)  # the demo's breach: 30 % errors
        journal = MemoryJournal()
        verdict = Judge(source=prom, baseline=baseline, policy=Policy(), journal=journal,
                        clock=clock).watch(900, phase="t0", step="shift-100", interval=300)
    finally:
        prom.close()
    assert baseline.requests >= 150 and baseline.errors / baseline.requests < 0.05
    assert verdict.action == "rollback", verdict.reason
    assert "error rate" in verdict.reason and "e-value" in verdict.reason
    assert verdict.windows <= 2  # the first full window after the fault; 2 if it straddled the fault
    gate = [fields for kind, fields in journal.entries if kind == "gate"][-1]
    assert gate["snapshot"]["latency_histogram"] is not None


def test_a_service_down_for_the_whole_window_is_an_outage_from_up(stack):
    demo, url = stack
    clock = ScaledClock(scale=300)
    prom = source(url, clock)
    try:
        baseline = prom.measure(900)
        demo.stop()  # the step took it down: scrapes fail, counters stop
        wait_until(lambda: _up(url) == 0.0, what="Prometheus to see the demo down")
        verdict = Judge(source=prom, baseline=baseline, policy=Policy(), journal=MemoryJournal(),
                        clock=clock).watch(900, phase="t0", step="cut-over", interval=300)
    finally:
        prom.close()
    assert verdict.action == "rollback_now" and verdict.windows == 1
    assert verdict.reason.startswith("outage: every scrape of the 3 s window found the service down (up = 0: prometheus")


def test_a_query_with_no_data_makes_the_window_inconclusive_and_says_which(stack):
    _, url = stack
    clock = ScaledClock(scale=300)
    typo = QUERIES["requests"].replace(f'job="{JOB}"', 'job="demo-typo"')
    prom = source(url, clock, requests=typo)
    try:
        baseline = source(url, clock).measure(900)
        window = prom.measure(900)
    finally:
        prom.close()
    said = window.signals.details["unavailable"]
    assert "the requests query returned no data for the window" in said and "demo-typo" in said
    decision = evaluate(baseline, window, Policy())
    assert decision.decision == "inconclusive" and said in decision.reasons


def test_prometheus_that_does_not_answer_is_inconclusive_never_proceed():
    from tests.http_servers import refusing_url

    with refusing_url() as dead:
        clock = ScaledClock(scale=300)
        prom = source(dead.rstrip("/"), clock, min_window_wall_seconds=0.2, query_delay=0, timeout=2.0)
        try:
            window = prom.measure(60)
        finally:
            prom.close()
    assert "the requests query failed" in window.signals.details["unavailable"]
    from odin_drills.steps.snapshot import Snapshot

    baseline = Snapshot(requests=10_000, errors=100, latency_ms={"p50": 8, "p95": 14, "p99": 20})
    assert evaluate(baseline, window, Policy()).decision == "inconclusive"


def test_quantiles_from_buckets_follow_histogram_quantile():
    bounds, counts = [10.0, 20.0, 40.0, INF_BOUND_MS], [50, 90, 99, 100]
    assert quantile_from_buckets(0.5, bounds, counts) == 10.0
    assert quantile_from_buckets(0.7, bounds, counts) == pytest.approx(15.0)  # linear inside (10, 20]
    assert quantile_from_buckets(0.995, bounds, counts) == 40.0  # +Inf bucket: the last finite bound
    assert quantile_from_buckets(0.95, bounds, [0, 0, 0, 0]) == 0.0


def _up(url: str) -> float | None:
    body = httpx.get(url + "/api/v1/query", params={"query": f'up{{job="{JOB}"}}'}, trust_env=False).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_close_during_a_window_ends_it_promptly():
    import threading
    import time

    from odin_drills.steps.clock import RealClock
    from odin_drills.steps.probes import ProbeClosed

    prom = source("http://127.0.0.1:9", RealClock())
    failure: list[BaseException] = []

    def window() -> None:
        try:
            prom.measure(30)  # 30 real seconds at scale 1
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            failure.append(exc)

    thread = threading.Thread(target=window)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    prom.close()
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert len(failure) == 1 and isinstance(failure[0], ProbeClosed)
    with pytest.raises(ProbeClosed):
        prom.measure(1)
