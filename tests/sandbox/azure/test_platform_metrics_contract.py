"""Contract: the sandbox's regional metrics endpoint (``metrics:getBatch``) answers in the shape of
Microsoft's published example (``tests/contract/azure-rest-examples/metrics/MetricBatchExample2.json``,
copied unmodified with its MIT notice), over raw HTTPS as the wire carries it, and the real
``azure-monitor-querymetrics`` ``MetricsClient`` parses that answer.

The sandbox serves App Service metrics without dimensions: the example's own request (a Redis
namespace, a dimension filter) is refused in ARM's error shape, as is an unknown metric name
(Azure's "Failed to find metric configuration" 400) and a resource of another region.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from odin_drills.sandbox.azure import AzureSandbox, SandboxCredential

EXAMPLE = Path(__file__).resolve().parents[2] / "contract" / "azure-rest-examples" / "metrics" / "MetricBatchExample2.json"
POINT_KEYS = {"timeStamp", "average", "minimum", "maximum", "total", "count"}


@pytest.fixture(scope="module")
def wire() -> Iterator[tuple[AzureSandbox, httpx.Client]]:
    sandbox = AzureSandbox(seed=11).start()
    try:
        info = sandbox.info()
        with httpx.Client(base_url=info["metrics_url"], timeout=10, trust_env=False,
                          verify=ssl.create_default_context(cafile=info["ca_cert"]),
                          headers={"Authorization": "Bearer contract-test"}) as client:
            yield sandbox, client
    finally:
        sandbox.stop()


def example() -> dict[str, Any]:
    assert EXAMPLE.is_file(), f"{EXAMPLE} is missing: it is part of the repository"
    return json.loads(EXAMPLE.read_text())


def batch_path(sandbox: AzureSandbox, region: str = "eastus") -> str:
    return f"/{region}/subscriptions/{sandbox.info()['subscription_id']}/metrics:getBatch"


def web_app(sandbox: AzureSandbox, region: str) -> str:
    return str(sandbox.info()["resources"]["web_apps"][region])


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def same_keys_and_types(theirs: dict[str, Any], ours: dict[str, Any], where: str) -> None:
    assert set(ours) == set(theirs), (where, sorted(set(ours) ^ set(theirs)))
    for key, value in theirs.items():
        assert type(ours[key]) is type(value), (where, key, ours[key])


def test_odins_query_is_answered_in_the_examples_shape(wire: tuple[AzureSandbox, httpx.Client]) -> None:
    sandbox, client = wire
    start = time.time()
    with httpx.Client(trust_env=False) as app:
        for _ in range(5):
            assert app.get(sandbox.info()["regions"]["eastus"] + "/health").status_code == 200
    documented = example()["responses"]["200"]["body"]
    response = client.post(batch_path(sandbox), params={
        "api-version": example()["parameters"]["api-version"], "starttime": iso(start - 1), "endtime": iso(time.time()),
        "interval": "FULL", "metricnamespace": "Microsoft.Web/sites", "metricnames": "Requests,Http5xx,HttpResponseTime",
        "aggregation": "total,average,count"}, json={"resourceids": [web_app(sandbox, "eastus")]})
    assert response.status_code == 200, response.text
    ours = response.json()
    assert set(ours) == set(documented) == {"values"} and len(ours["values"]) == 1
    theirs_item, item = documented["values"][0], ours["values"][0]
    same_keys_and_types(theirs_item, item, "values[]")
    assert item["resourceid"] == web_app(sandbox, "eastus") and item["resourceregion"] == "eastus"
    assert item["namespace"] == "microsoft.web/sites" and item["interval"].startswith("PT")  # FULL: the span
    assert [m["name"]["value"] for m in item["value"]] == ["Requests", "Http5xx", "HttpResponseTime"]
    for metric in item["value"]:
        same_keys_and_types(theirs_item["value"][0], metric, "value[]")
        same_keys_and_types(theirs_item["value"][0]["name"], metric["name"], "name")
        assert metric["id"] == f"{web_app(sandbox, 'eastus')}/providers/Microsoft.Insights/metrics/{metric['name']['value']}"
        assert metric["errorCode"] == "Success" and len(metric["timeseries"]) == 1
        series = metric["timeseries"][0]
        same_keys_and_types(theirs_item["value"][0]["timeseries"][0], series, "timeseries[]")
        assert series["metadatavalues"] == [] and len(series["data"]) == 1
        assert set(series["data"][0]) <= POINT_KEYS and {"timeStamp", "total", "average", "count"} <= set(series["data"][0])
    requests, failed, latency = (m["timeseries"][0]["data"][0] for m in item["value"])
    assert requests["total"] >= 5 and failed["total"] == 0  # ours, and the edge's health probes
    assert 0 < latency["average"] < 1 and latency["count"] == requests["total"]  # seconds, one sample per request


def test_the_sdk_parses_the_answer(wire: tuple[AzureSandbox, httpx.Client]) -> None:
    from azure.monitor.querymetrics import MetricAggregationType, MetricsClient

    sandbox, _ = wire
    info = sandbox.info()
    start = datetime.now(timezone.utc)
    with httpx.Client(trust_env=False) as app:
        for region in ("eastus", "westus"):
            for _ in range(3):
                app.get(info["regions"][region] + "/health")
    client = MetricsClient(info["metrics_endpoints"]["westus"], SandboxCredential(), connection_verify=info["ca_cert"])
    try:
        results = client.query_resources(
            resource_ids=[web_app(sandbox, "westus")], metric_namespace="Microsoft.Web/sites",
            metric_names=["Requests", "Http4xx"], timespan=(start - timedelta(seconds=1), timedelta(minutes=2)),
            granularity=timedelta(minutes=1), aggregations=[MetricAggregationType.TOTAL])
    finally:
        client.close()
    assert len(results) == 1
    result = results[0]
    assert result.granularity == timedelta(minutes=1) and result.namespace == "microsoft.web/sites"
    assert result.resource_region == "westus" and "/" in result.timespan
    requests = result.metrics["Requests"]
    assert requests.unit == "Count" and requests.type == "Microsoft.Insights/metrics"
    assert len(requests.timeseries) == 1 and len(requests.timeseries[0].data) == 2  # two one-minute grains
    assert sum(point.total or 0 for point in requests.timeseries[0].data) >= 3
    assert all(point.average is None for point in requests.timeseries[0].data)  # only Total was asked for


def test_the_examples_own_request_and_unknown_names_are_refused_in_arm_error_shape(
        wire: tuple[AzureSandbox, httpx.Client]) -> None:
    sandbox, client = wire
    parameters = example()["parameters"]
    query = {key: parameters[key] for key in ("api-version", "starttime", "endtime", "interval", "metricnamespace",
                                              "aggregation", "top", "orderby", "filter", "rollupby")}
    query["metricnames"] = ",".join(parameters["metricnames"])
    own = client.post(batch_path(sandbox), params=query, json=parameters["batchRequest"])
    assert own.status_code == 400 and set(own.json()) == {"error"} and set(own.json()["error"]) == {"code", "message"}
    assert own.json()["error"]["code"] == "BadRequest" and "is not supported" in own.json()["error"]["message"]
    redis = client.post(batch_path(sandbox), params={**query, "filter": "", "rollupby": ""},
                        json=parameters["batchRequest"])
    assert redis.status_code == 400 and "'Microsoft.Cache/Redis' is not a supported platform metric namespace" \
        in redis.json()["error"]["message"]
    filtered = client.post(batch_path(sandbox), params={**query, "metricnamespace": "Microsoft.Web/sites",
                                                        "metricnames": "Requests"},
                           json={"resourceids": [web_app(sandbox, "eastus")]})
    assert filtered.status_code == 400 and "filter is not supported" in filtered.json()["error"]["message"]
    unknown = client.post(batch_path(sandbox), params={"metricnamespace": "Microsoft.Web/sites",
                                                       "metricnames": "Requests,CpuTimez"},
                          json={"resourceids": [web_app(sandbox, "eastus")]})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "BadRequest"
    assert unknown.json()["error"]["message"].startswith(
        "Failed to find metric configuration for provider: Microsoft.Web, resource Type: sites, metric: CpuTimez")
    elsewhere = client.post(batch_path(sandbox, "eastus"), params={"metricnamespace": "Microsoft.Web/sites",
                                                                   "metricnames": "Requests"},
                            json={"resourceids": [web_app(sandbox, "westus")]})
    assert elsewhere.status_code == 400 and "is in region westus, not eastus" in elsewhere.json()["error"]["message"]
    missing = client.post(batch_path(sandbox), params={"metricnamespace": "Microsoft.Web/sites", "metricnames": "Requests"},
                          json={"resourceids": [web_app(sandbox, "eastus") + "-gone"]})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    info = sandbox.info()
    anonymous = httpx.post(info["metrics_url"] + batch_path(sandbox), params={"metricnamespace": "Microsoft.Web/sites",
                                                                             "metricnames": "Requests"},
                           json={"resourceids": [web_app(sandbox, "eastus")]}, trust_env=False,
                           verify=ssl.create_default_context(cafile=info["ca_cert"]))
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_the_sdk_raises_azures_error_for_an_unknown_metric(wire: tuple[AzureSandbox, httpx.Client]) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.monitor.querymetrics import MetricsClient

    sandbox, _ = wire
    info = sandbox.info()
    client = MetricsClient(info["metrics_endpoints"]["eastus"], SandboxCredential(), connection_verify=info["ca_cert"])
    try:
        with pytest.raises(HttpResponseError) as refused:
            client.query_resources(resource_ids=[web_app(sandbox, "eastus")], metric_namespace="Microsoft.Web/sites",
                                   metric_names=["Requests", "CpuTimez"], timespan=timedelta(minutes=5))
    finally:
        client.close()
    assert refused.value.status_code == 400 and refused.value.error is not None
    assert refused.value.error.code == "BadRequest" and "metric: CpuTimez" in str(refused.value.message)
