"""The error-budget gate: the handbook's four tiers as pure numbers, and the budget read from a real
Prometheus scraping the real demo service with injected errors (over a scaled SLO window)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odin_drills.plan.slo import ErrorBudgetPolicy
from odin_drills.plan.telemetry import PrometheusMetrics
from odin_drills.sandbox.bluegreen import BlueGreenDemo
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.probes.prometheus import PrometheusSource
from odin_drills.steps.slo import budget_gate, error_budget, read_budget
from tests.monitoring_servers import Load, prometheus, scraped, wait_until

SLO = ErrorBudgetPolicy(availability=99.0)  # 1 % of requests may fail over 30 days


@pytest.mark.parametrize("errors, tier, remaining", [
    (0, "normal", 1.0),
    (490, "normal", 0.51),
    (500, "conservative", 0.5),  # 50 % remaining is conservative (the handbook's 25-50 %)
    (750, "conservative", 0.25),
    (760, "freeze", 0.24),
    (999, "freeze", 0.001),
    (1000, "exhausted", 0.0),
    (1500, "exhausted", -0.5),
])
def test_the_four_tiers_at_their_boundaries(errors, tier, remaining):
    budget = error_budget(100_000, errors, 99.0, 30 * 86400)  # 1,000 failures allowed
    assert budget.allowed == pytest.approx(1000.0)
    assert budget.tier == tier and budget.remaining == pytest.approx(remaining)


def test_what_each_tier_allows_and_says():
    normal = error_budget(100_000, 100, 99.0, 30 * 86400)
    assert budget_gate(normal, SLO) == (True, "error budget 90.0% remaining: 100 failed of 100,000 requests over the "
                                              "30-day SLO window, 1,000.0 allowed at 99 % availability: normal (> 50 %)")
    ok, said = budget_gate(error_budget(100_000, 600, 99.0, 30 * 86400), SLO)
    assert ok and said.endswith("conservative (25-50 %): proceeding with care (review recent incidents, increase testing)")
    frozen = error_budget(100_000, 800, 99.0, 30 * 86400)
    ok, said = budget_gate(frozen, SLO)
    assert not ok and "non-critical changes are frozen; mark a critical fix slo.critical: true" in said
    assert budget_gate(frozen, SLO.model_copy(update={"critical": True}))[0]
    spent = error_budget(100_000, 1200, 99.0, 30 * 86400)
    assert budget_gate(spent, SLO.model_copy(update={"critical": True}))[0] is False  # critical is not emergency
    emergency = ErrorBudgetPolicy.model_validate({"availability": 99.0, "emergency": {"reason": "hotfix for INC-42",
                                                                                       "by": "alice"}})
    ok, said = budget_gate(spent, emergency)
    assert ok and said.endswith("EMERGENCY override by alice: hotfix for INC-42")


def test_a_budget_not_seen_refuses():
    ok, said = budget_gate(error_budget(0, 0, 99.9, 30 * 86400), SLO)
    assert not ok and said.startswith("error budget unknown: no requests in the 30-day SLO window")
    ok, said = budget_gate(error_budget(100, 0, 99.9, 86400), SLO, unavailable="prometheus: the requests query failed")
    assert not ok and said == "error budget unknown: prometheus: the requests query failed"


# ---------------------------------------------------------------- from a real Prometheus

JOB = "demo"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BlueGreenDemo, str]]:
    folder = tmp_path_factory.mktemp("slo")
    demo = BlueGreenDemo(seed=9, port=0, error_rate=0.0).start()
    try:
        with prometheus(folder / "prometheus", {JOB: {"target": f"127.0.0.1:{demo.port}", "path": "/_admin/metrics"}}) as url, \
                Load(demo.router_url + "/api/orders/5"):
            wait_until(lambda: scraped(url, JOB), what="Prometheus to scrape the demo")
            yield demo, url
    finally:
        demo.stop()


def source(url: str, clock: ScaledClock) -> PrometheusSource:
    return PrometheusSource(PrometheusMetrics.model_validate({
        "kind": "prometheus", "url": url, "query_delay": 0, "min_window_wall_seconds": 3,
        "requests": f'sum(increase(odin_demo_requests_total{{job="{JOB}"}}[$window]))',
        "errors": f'sum(increase(odin_demo_requests_total{{job="{JOB}",code=~"5.."}}[$window]))'}), clock)


def test_the_budget_is_read_from_prometheus_over_the_scaled_slo_window(stack):
    demo, url = stack
    clock = ScaledClock(scale=30 * 86400 / 4)  # the 30-day SLO window is 4 real seconds of traffic
    prom = source(url, clock)
    try:
        wait_until(lambda: read_budget(SLO, prom)[0].requests > 100, what="4 s of traffic in Prometheus")
        clean, _ = read_budget(SLO, prom)
        demo.add_fault("blue", error_rate=1.0, duration_seconds=30)  # every request fails: the budget burns
        wait_until(lambda: read_budget(SLO, prom)[0].tier == "exhausted", timeout=30, what="the budget to be spent")
        spent, unavailable = read_budget(SLO, prom)
    finally:
        demo.clear_faults()
        prom.close()
    assert clean.tier == "normal" and clean.errors == 0 and clean.remaining == 1.0
    assert unavailable is None and spent.errors > spent.allowed > 0
    ok, said = budget_gate(spent, SLO)
    assert not ok and f"{spent.errors:,} failed of {spent.requests:,} requests over the 30-day SLO window" in said
