"""Plan fields of issue 10 through the real CLI: good ones validate, bad ones are one line each
naming the file and the field, exit 2 (``metrics: {kind: prometheus}``, ``alerts:``,
``policy.outage``)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import run_odin
from tests.test_plan_validation import GOOD

PROMETHEUS = {
    "kind": "prometheus", "url": "http://127.0.0.1:9090",
    "requests": 'sum(increase(http_requests_total{job="shop"}[$window]))',
    "errors": 'sum(increase(http_requests_total{job="shop",code=~"5.."}[$window]))',
    "latency_buckets": 'sum by (le) (increase(http_request_duration_seconds_bucket{job="shop"}[$window]))',
    "up": 'avg(avg_over_time(up{job="shop"}[$window]))',
}
ALERTS = {"kind": "alertmanager", "url": "http://127.0.0.1:9093", "filter": ['service="shop"'],
          "security": ['category="security"']}


def plan(tmp_path: Path, **changes: object) -> Path:
    data = json.loads(json.dumps(GOOD))
    data.update(changes)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def errors(tmp_path: Path, **changes: object) -> list[str]:
    path = plan(tmp_path, **changes)
    result = run_odin(["validate", str(path)])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"odin: error: {path}: ") for line in lines), lines
    return lines


def test_a_prometheus_plan_with_alertmanager_and_an_outage_rule_validates(tmp_path: Path) -> None:
    path = plan(tmp_path, metrics=PROMETHEUS, alerts=ALERTS,
                policy={"outage": {"error_rate": 0.95, "min_requests": 30}})
    result = run_odin(["validate", str(path)])
    assert result.returncode == 0, result.stderr


def test_bad_prometheus_fields_are_one_line_each(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics={**PROMETHEUS, "errors": "sum(rate(x[$window])", "latency_unit": "minutes"})
    assert len(lines) == 2, lines
    assert any("metrics.errors: unbalanced brackets in PromQL" in line for line in lines)
    assert any("metrics.latency_unit:" in line for line in lines)


def test_a_prometheus_source_needs_its_queries(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics={"kind": "prometheus", "url": "http://127.0.0.1:9090"})
    assert sorted(line.split(": ")[3] for line in lines) == ["metrics.errors", "metrics.requests"]
    assert all(line.endswith("required field is missing") for line in lines), lines


def test_bad_alert_matchers_and_kinds_are_named(tmp_path: Path) -> None:
    lines = errors(tmp_path, alerts={**ALERTS, "filter": ["service=shop"]})
    assert len(lines) == 1 and "alerts.filter: 'service=shop' is not a label matcher" in lines[0]
    lines = errors(tmp_path, alerts={**ALERTS, "kind": "pagerduty"})
    assert len(lines) == 1 and ("alerts: unknown kind 'pagerduty' (expected one of 'alertmanager', "
                                "'azure_monitor_alerts')") in lines[0], lines


def test_outage_rule_bounds_are_named(tmp_path: Path) -> None:
    lines = errors(tmp_path, policy={"outage": {"error_rate": 0.3, "min_requests": 0}})
    assert len(lines) == 2, lines
    assert any("policy.outage.error_rate: Input should be greater than 0.5" in line for line in lines)
    assert any("policy.outage.min_requests:" in line for line in lines)


def test_odin_plan_on_a_prometheus_plan_says_what_adequacy_cannot_know(tmp_path: Path) -> None:
    result = run_odin(["plan", str(plan(tmp_path, metrics=PROMETHEUS, alerts=ALERTS))])
    assert result.returncode == 0, result.stderr
    assert "adequacy: metrics.prometheus states no rate_per_second: T-1w checks the real baseline" in result.stdout


def test_an_slo_needs_a_source_that_can_look_back_and_an_emergency_says_who(tmp_path: Path) -> None:
    lines = errors(tmp_path, slo={"availability": 99.9})  # GOOD's metrics are the synthetic probe
    assert len(lines) == 1 and lines[0].endswith(
        "slo: the error budget is read over the SLO window from a source that can look back: "
        "needs metrics.kind prometheus, azure_monitor or azure_monitor_metrics")
    lines = errors(tmp_path, metrics=PROMETHEUS, slo={"availability": 100, "emergency": {"reason": "hotfix"}})
    assert len(lines) == 2, lines
    assert any("slo.availability: Input should be less than 100" in line for line in lines)
    assert any("slo.emergency.by: required field is missing" in line for line in lines)
    ok = run_odin(["validate", str(plan(tmp_path, metrics=PROMETHEUS, slo={"availability": 99.9, "window": "30d",
                                                                         "critical": True}))])
    assert ok.returncode == 0, ok.stderr
