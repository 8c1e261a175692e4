"""Contract: the sandbox's Log Analytics query API answers in the shape of Microsoft's published
example (``tests/contract/azure-rest-examples/loganalytics/oms-post-example.json``, copied
unmodified with its MIT notice), over raw HTTPS as the wire carries it.

The sandbox is not a KQL engine: the example's own query (``Usage | take 10``) is refused with a
400 in Log Analytics' error shape, and odin's window query is answered with a body whose
structure (``tables[].name/columns[{name, type}]/rows``) and value types match the example's.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from odin_drills.plan.azure_monitor import AzureMonitorMetrics
from odin_drills.sandbox.azure import AzureSandbox

EXAMPLE = Path(__file__).resolve().parents[2] / "contract" / "azure-rest-examples" / "loganalytics" / "oms-post-example.json"
# Log Analytics column types and the JSON values a row carries for them (null is any type).
JSON_TYPES = {"long": (int,), "real": (int, float), "string": (str,), "bool": (bool, str), "datetime": (str,)}


@pytest.fixture(scope="module")
def wire() -> Iterator[tuple[AzureSandbox, httpx.Client]]:
    sandbox = AzureSandbox(seed=11).start()
    try:
        info = sandbox.info()
        with httpx.Client(base_url=info["log_analytics_url"], timeout=10, trust_env=False,
                          verify=ssl.create_default_context(cafile=info["ca_cert"]),
                          headers={"Authorization": "Bearer contract-test"}) as client:
            yield sandbox, client
    finally:
        sandbox.stop()


def example() -> dict[str, Any]:
    assert EXAMPLE.is_file(), f"{EXAMPLE} is missing: it is part of the repository"
    return json.loads(EXAMPLE.read_text())


def query_path(sandbox: AzureSandbox) -> str:
    return f"/v1/workspaces/{sandbox.info()['log_analytics_workspace_id']}/query"


def test_odins_query_is_answered_in_the_examples_shape(wire: tuple[AzureSandbox, httpx.Client]) -> None:
    sandbox, client = wire
    with httpx.Client(trust_env=False) as app:
        for _ in range(5):
            assert app.get(sandbox.info()["regions"]["westus"] + "/health").status_code == 200
    documented = example()["responses"]["200"]["body"]
    body = {**example()["parameters"]["body"], "query": AzureMonitorMetrics(kind="azure_monitor").query()}
    response = client.post(query_path(sandbox), json=body)  # the example's timespan (PT12H)
    assert response.status_code == 200, response.text
    ours = response.json()
    assert set(ours) == set(documented)
    for theirs, table in zip(documented["tables"], ours["tables"], strict=True):
        assert set(table) == set(theirs) and table["name"] == theirs["name"] == "PrimaryResult"
        assert all(set(column) == {"name", "type"} for column in table["columns"])
        known = {column["type"] for column in theirs["columns"]}
        assert {column["type"] for column in table["columns"]} <= known
        assert len(table["rows"]) == 1 and all(len(row) == len(table["columns"]) for row in table["rows"])
        for column, value in zip(table["columns"], table["rows"][0]):
            assert value is None or isinstance(value, JSON_TYPES[column["type"]]), (column, value)
        assert table["rows"][0][0] >= 5  # requests: the five above at least (and the edge's probes)


def test_the_examples_own_query_is_refused_in_log_analytics_error_shape(wire: tuple[AzureSandbox, httpx.Client]) -> None:
    sandbox, client = wire
    response = client.post(query_path(sandbox), json=example()["parameters"]["body"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadArgumentError" and "not a KQL engine" in error["innererror"]["message"]
    wrong = client.post(f"/v1/workspaces/{example()['parameters']['workspaceId']}/query",
                        json=example()["parameters"]["body"])
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "WorkspaceNotFoundError"
    info = sandbox.info()
    anonymous = httpx.post(info["log_analytics_url"] + query_path(sandbox), json={"query": "x"}, trust_env=False,
                           verify=ssl.create_default_context(cafile=info["ca_cert"]))
    assert anonymous.status_code == 401


@pytest.mark.parametrize("query, why", [
    ("AppRequests | summarize count()", "not a KQL engine"),
    ("// odin-drills:requests-window v1\nUsage\n| summarize requests = count()", "unknown table 'Usage'"),
    ('// odin-drills:requests-window v1\nAppRequests\n| where Success == true\n| summarize requests = count()',
     "unsupported where clause"),
    ("// odin-drills:requests-window v1\nAppRequests\n| summarize requests = avg(DurationMs)", "unsupported aggregate"),
    ("// odin-drills:requests-window v1\nAppRequests\n| summarize requests = count()\n| take 1",
     "expected one '| summarize ...' line"),
    ("// odin-drills:requests-window v1\nrequests\n| summarize failed = countif(Success == false)",
     "unsupported aggregate"),  # the classic table's column is success
])
def test_anything_but_odins_query_is_refused_and_says_what(query: str, why: str) -> None:
    from odin_drills.sandbox.azure.log_analytics import UnsupportedQuery, parse_query

    with pytest.raises(UnsupportedQuery) as refused:
        parse_query(query)
    assert why in str(refused.value)


def test_odins_queries_parse_for_both_tables() -> None:
    from odin_drills.sandbox.azure.log_analytics import parse_query

    for table in ("AppRequests", "requests"):
        parsed = parse_query(AzureMonitorMetrics(kind="azure_monitor", table=table, role="odin-demo",
                                                 latency_buckets_ms=[1.5, 10]).query())
        assert parsed.table == table and parsed.role == "odin-demo"
        assert [(a.name, a.op, a.value) for a in parsed.aggregates] == [
            ("requests", "count", 0.0), ("failed", "failed", 0.0), ("p50", "percentile", 50.0),
            ("p95", "percentile", 95.0), ("p99", "percentile", 99.0), ("le_0", "le", 1.5), ("le_1", "le", 10.0)]
