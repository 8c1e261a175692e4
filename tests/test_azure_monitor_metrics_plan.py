"""``metrics: {kind: azure_monitor_metrics}`` plan fields through the real CLI: good blocks validate
(one region's list, region -> list, a sandbox target naming nothing), a bad one is one line per
problem naming the file and the field, exit 2; App Service's metric names are the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from odin_drills.plan.azure_platform_metrics import AzureMonitorPlatformMetrics
from tests.conftest import run_odin
from tests.test_plan_validation import GOOD

SUB = "63613592-b6f7-4c3d-a390-22ba13102111"
SITES = f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.Web/sites"
BY_REGION = {"kind": "azure_monitor_metrics", "query_delay": "3m",
             "resource_ids": {"eastus": [f"{SITES}/shop-eastus"], "westus": [f"{SITES}/shop-westus"]}}


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


def test_platform_metrics_plans_validate(tmp_path: Path) -> None:
    for metrics in (BY_REGION, {"kind": "azure_monitor_metrics", "region": "eastus",
                                "resource_ids": [f"{SITES}/shop-eastus"], "failed_metrics": ["Http4xx", "Http5xx"],
                                "interval": "5m", "latency_metric": None}):
        result = run_odin(["validate", str(plan(tmp_path, metrics=metrics))])
        assert result.returncode == 0, result.stderr
    sandbox = run_odin(["validate", str(plan(tmp_path, target={"kind": "sandbox"},
                                             metrics={"kind": "azure_monitor_metrics", "query_delay": 0}))])
    assert sandbox.returncode == 0, sandbox.stderr


def test_bad_platform_metrics_fields_are_one_line_each(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics={**BY_REGION, "interval": "2m", "endpoint_url": "https://x",
                                      "requests_metric": "Requests; drop", "query_delay": "-1s"})
    fields = sorted(line.split(": ")[3] for line in lines)
    assert fields == ["metrics.endpoint_url", "metrics.interval", "metrics.query_delay", "metrics.requests_metric"], lines
    assert any("1m, 5m, 15m, 30m, 1h, 6h, 12h or 1d" in line for line in lines)


@pytest.mark.parametrize("resource_ids, said", [
    (["not-an-id"], "'not-an-id' is not an ARM resource id"),
    ({"East US": [f"{SITES}/a"]}, "'East US' is not an Azure region name like eastus"),
    ({"eastus": [f"{SITES}/a", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/b"]},
     "resources of one type only"),
    ({"eastus": [f"{SITES}/a"], "westus": [f"{SITES}/a".replace(SUB, "00000000-0000-4000-8000-000000000000")]},
     "resources of one subscription only"),
    ({"eastus": []}, "expected a non-empty list"),
])
def test_bad_resource_ids_are_one_line_naming_the_field(tmp_path: Path, resource_ids: object, said: str) -> None:
    lines = errors(tmp_path, metrics={"kind": "azure_monitor_metrics", "resource_ids": resource_ids, "region": None})
    assert len(lines) == 1 and ": metrics.resource_ids: " in lines[0] and said in lines[0], lines


def test_a_list_needs_its_region_and_real_azure_needs_resources(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics={"kind": "azure_monitor_metrics", "resource_ids": [f"{SITES}/shop-eastus"]})
    assert len(lines) == 1 and "region: required with a resource_ids list (the batch API is regional)" in lines[0]
    lines = errors(tmp_path, metrics={"kind": "azure_monitor_metrics"})
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: metrics.resource_ids: required unless the target is "
                     "the sandbox"], lines


def test_app_service_defaults_and_other_types_name_their_metrics() -> None:
    spec = AzureMonitorPlatformMetrics.model_validate(BY_REGION)
    assert spec.metric_namespace == "Microsoft.Web/sites" and spec.interval == 60 and spec.query_delay == 180
    assert spec.metric_names() == ["Requests", "Http5xx", "HttpResponseTime"]
    assert spec.by_region() == {"eastus": [f"{SITES}/shop-eastus"], "westus": [f"{SITES}/shop-westus"]}
    both = AzureMonitorPlatformMetrics.model_validate({**BY_REGION, "failed_metrics": ["Http4xx", "Http5xx"],
                                                       "latency_metric": None})
    assert both.metric_names() == ["Requests", "Http4xx", "Http5xx"]
    gateway = {"kind": "azure_monitor_metrics", "region": "eastus",
               "resource_ids": [f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/applicationGateways/g"]}
    with pytest.raises(ValidationError, match="requests_metric: required for Microsoft.Network/applicationGateways"):
        AzureMonitorPlatformMetrics.model_validate(gateway)
    named = AzureMonitorPlatformMetrics.model_validate({**gateway, "requests_metric": "TotalRequests",
                                                        "failed_metrics": "FailedRequests"})
    assert named.metric_names() == ["TotalRequests", "FailedRequests"] and named.latency_metric is None


def test_odin_plan_says_what_adequacy_cannot_know(tmp_path: Path) -> None:
    result = run_odin(["plan", str(plan(tmp_path, metrics=BY_REGION))])
    assert result.returncode == 0, result.stderr
    assert "adequacy: metrics.azure_monitor_metrics states no rate_per_second: T-1w checks the real baseline" \
        in result.stdout
