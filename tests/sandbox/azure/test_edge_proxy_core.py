"""The Front Door edge's proxy core (issue 14: per-origin keep-alive pools, not one shared
``httpx.AsyncClient``) passes requests and answers through intact, and a burst of concurrent
requests all get their answer. Its speed is measured by ``bench/edge.py``, never asserted here."""

from __future__ import annotations

import asyncio
import json

import httpx

from odin_drills.sandbox.azure import AzureSandbox

EAST = "app-eastus"


def test_method_path_query_body_and_headers_pass_through(sandbox: AzureSandbox, http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    created = http.post(f"{edge}/api/orders", json={"sku": "a b", "n": 2}, headers={"x-trace": "t1"})
    assert created.status_code == 201
    order = created.json()
    assert created.headers["x-odin-origin"] == EAST and created.headers["x-odin-region"] == "eastus"
    assert len(created.headers["x-azure-ref"]) == 32 and created.headers["content-type"] == "application/json"
    read = http.get(f"{edge}/api/orders/{order['id']}?fresh=1")
    assert read.status_code == 200 and read.json()["order"] == {"n": 2, "sku": "a b"}
    missing = http.get(f"{edge}/api/orders/no%20such")  # the path as sent, decoded once by the origin
    assert missing.status_code == 404 and missing.json() == {"error": "NotFound"}
    head = http.head(f"{edge}/health")
    assert head.status_code == 200 and head.content == b""


def test_a_burst_of_concurrent_requests_all_get_their_answer(sandbox: AzureSandbox):
    edge = sandbox.info()["frontdoor_url"]

    async def burst() -> list[httpx.Response]:
        # idle connections dropped well before the server's 5 s keep-alive: a starved test process
        # must not race the server closing one (that is a client-side ReadError, not the edge's)
        limits = httpx.Limits(max_connections=32, keepalive_expiry=1.0)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            return await asyncio.gather(*(client.get(f"{edge}/health", params={"i": i}) for i in range(300)))

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [200] * 300
    assert {json.loads(a.content)["region"] for a in answers} == {"eastus"}
