"""``metrics: {kind: azure_monitor}`` plan fields through the real CLI: a good block validates, a bad
one is one line per problem naming the file and the field, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from odin_drills.plan.azure_monitor import QUERY_MARKER, AzureMonitorMetrics
from tests.conftest import run_odin
from tests.test_plan_validation import GOOD

WORKSPACE = "63613592-b6f7-4c3d-a390-22ba13102111"
AZURE_MONITOR = {"kind": "azure_monitor", "workspace_id": WORKSPACE, "role": "shop", "query_delay": "90s"}


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


def test_an_azure_monitor_plan_validates(tmp_path: Path) -> None:
    result = run_odin(["validate", str(plan(tmp_path, metrics=AZURE_MONITOR))])
    assert result.returncode == 0, result.stderr


def test_bad_azure_monitor_fields_are_one_line_each(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics={**AZURE_MONITOR, "workspace_id": "not-a-guid", "table": "Requests",
                                      "endpoint": "http://api.loganalytics.io", "latency_buckets_ms": [100, 50],
                                      "role": 'shop" or 1 == 1'})
    fields = sorted(line.split(": ")[3] for line in lines)
    assert fields == ["metrics.endpoint", "metrics.latency_buckets_ms", "metrics.role", "metrics.table",
                      "metrics.workspace_id"], lines


def test_unknown_fields_and_a_missing_workspace_are_named(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics={"kind": "azure_monitor", "query": "requests | take 10"})
    assert any("metrics.query:" in line for line in lines), lines
    lines = errors(tmp_path, metrics={"kind": "azure_monitor"})
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: metrics.workspace_id: required unless the target is "
                     "the sandbox"], lines


def test_the_query_is_one_summarize_with_a_bucket_per_bound() -> None:
    spec = AzureMonitorMetrics.model_validate({**AZURE_MONITOR, "latency_buckets_ms": [2.5, 100, 20000]})
    lines = spec.query().splitlines()
    assert lines[:3] == [QUERY_MARKER, "AppRequests", '| where AppRoleName == "shop"']
    assert lines[3] == ("| summarize requests = count(), failed = countif(Success == false), "
                        "p50 = percentile(DurationMs, 50), p95 = percentile(DurationMs, 95), "
                        "p99 = percentile(DurationMs, 99), le_0 = countif(DurationMs <= 2.5), "
                        "le_1 = countif(DurationMs <= 100), le_2 = countif(DurationMs <= 20000)")
    classic = AzureMonitorMetrics.model_validate({"kind": "azure_monitor", "table": "requests"}).query()
    assert "cloud_RoleName" not in classic and "countif(success == false)" in classic


def test_odin_plan_on_an_azure_monitor_plan_says_what_adequacy_cannot_know(tmp_path: Path) -> None:
    result = run_odin(["plan", str(plan(tmp_path, metrics=AZURE_MONITOR))])
    assert result.returncode == 0, result.stderr
    assert "adequacy: metrics.azure_monitor states no rate_per_second: T-1w checks the real baseline" in result.stdout


def test_a_sandbox_target_needs_no_workspace_id(tmp_path: Path) -> None:
    path = plan(tmp_path, target={"kind": "sandbox"}, metrics={"kind": "azure_monitor", "query_delay": 0})
    result = run_odin(["validate", str(path)])
    assert result.returncode == 0, result.stderr
