"""The blue/green demo target keeps its promises, over real HTTP on 127.0.0.1.

Every demo started here is stopped by the ``start_demo`` fixture, whether the test passes or not.
Statistical checks use seeded randomness *and* tolerances of four sigma or more, so they hold
for any seed, not just the one used.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from odin_drills.sandbox.bluegreen import BlueGreenDemo, DemoNotRunning, InvalidFault, InvalidWeights
from odin_drills.sandbox.bluegreen.stats import LatencyWindow
from odin_drills.sandbox.bluegreen.upstream import UpstreamError, UpstreamPool

REPO = Path(__file__).resolve().parents[2]


# fixtures and helpers ----------------------------------------------------------------------------
@pytest.fixture
def start_demo() -> Iterator[Callable[..., BlueGreenDemo]]:
    """Start demos for a test; all of them are stopped afterwards, on success or failure."""
    started: list[BlueGreenDemo] = []

    def start(**options: object) -> BlueGreenDemo:
        options.setdefault("seed", 7)
        demo = BlueGreenDemo(**options)  # type: ignore[arg-type]
        started.append(demo)
        return demo.start()

    try:
        yield start
    finally:
        for demo in started:
            demo.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as http:
        yield http


def get_many(url: str, count: int) -> list[httpx.Response]:
    """``count`` GETs of ``url`` one after another: with no natural latency, a keep-alive sync
    client is the cheapest load this process can make (the demo shares its CPU)."""
    with httpx.Client(timeout=10.0) as http:
        return [http.get(url) for _ in range(count)]


def fetch_many(url: str, count: int, concurrency: int = 16) -> list[httpx.Response]:
    """``count`` GETs of ``url``, ``concurrency`` at a time, one client per worker (HTTP-NOTES):
    for when the service sleeps and one-at-a-time would mostly wait."""

    async def run() -> list[httpx.Response]:
        responses: list[httpx.Response] = []
        remaining = iter(range(count))

        async def worker() -> None:
            async with httpx.AsyncClient(timeout=10.0) as http:
                for _ in remaining:
                    responses.append(await http.get(url))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return responses

    return asyncio.run(run())


def timed_gets(http: httpx.Client, url: str, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        http.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        return False


# the service ----------------------------------------------------------------------------------
def test_each_version_serves_health_and_orders_and_names_itself(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=1)
    for version, url in demo.version_urls.items():
        health = client.get(url + "/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "version": version}
        assert health.headers["x-odin-version"] == version

        order = client.get(url + "/api/orders/42")
        assert order.json() == {"id": 42, "status": "shipped", "version": version}
        assert order.headers["x-odin-version"] == version

        created = client.post(url + "/api/orders", json={"sku": "drill-1", "qty": 2})
        assert created.status_code == 201
        assert created.headers["x-odin-version"] == version
        body = created.json()
        assert body["status"] == "created" and body["version"] == version
        assert body["order"] == {"sku": "drill-1", "qty": 2}
        assert created.headers["location"] == f"/api/orders/{body['id']}"

        missing = client.get(url + "/no/such/route")
        assert missing.status_code == 404 and missing.headers["x-odin-version"] == version


def test_background_error_rate_is_close_to_the_configured_one(start_demo):
    demo = start_demo(error_rate=0.02, latency_median_ms=0)
    responses = get_many(demo.version_urls["blue"] + "/api/orders/1", 3000)
    failures = [r for r in responses if r.status_code == 500]
    # expected 60 of 3000, sigma 7.7: 30..90 is about four sigma either side
    assert 30 <= len(failures) <= 90, len(failures)
    assert all(r.json()["kind"] == "natural" and r.headers["x-odin-error"] == "natural" for r in failures)
    assert all(r.headers["x-odin-version"] == "blue" for r in failures)
    stats = demo.stats()["versions"]["blue"]
    assert stats["requests"] == 3000 and stats["errors"] == len(failures)


def test_same_seed_gives_the_same_errors(start_demo):
    runs = []
    for _ in range(2):
        demo = start_demo(seed=11, error_rate=0.1, latency_median_ms=0)
        statuses = [r.status_code for r in get_many(demo.version_urls["green"] + "/health", 200)]
        runs.append(statuses)
        demo.stop()
    assert runs[0] == runs[1] and 500 in runs[0]


# the router ------------------------------------------------------------------------------------
def test_weights_route_traffic_in_the_given_proportion(start_demo):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    assert demo.set_weights(blue=90, green=10) == {"blue": 90, "green": 10}
    responses = get_many(demo.router_url + "/api/orders/7", 1000)
    versions = Counter(r.headers["x-odin-version"] for r in responses)
    assert all(r.json()["version"] == r.headers["x-odin-version"] for r in responses)
    assert versions["blue"] + versions["green"] == 1000
    # expected 100 green, sigma 9.5: 50..150 is five sigma either side
    assert 50 <= versions["green"] <= 150, versions
    stats = demo.stats()
    assert stats["router"]["routed"] == {"blue": versions["blue"], "green": versions["green"]}
    assert stats["versions"]["green"]["requests"] == versions["green"]


def test_all_blue_sends_nothing_to_green(start_demo):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    assert demo.weights() == {"blue": 100, "green": 0}
    responses = get_many(demo.router_url + "/health", 300)
    assert {r.headers["x-odin-version"] for r in responses} == {"blue"}
    assert demo.stats()["versions"]["green"]["requests"] == 0


def test_all_green_sends_nothing_to_blue(start_demo):
    demo = start_demo(error_rate=0.0, latency_median_ms=0, weights={"blue": 0, "green": 100})
    responses = get_many(demo.router_url + "/health", 200)
    assert {r.headers["x-odin-version"] for r in responses} == {"green"}


def test_router_forwards_method_path_query_body_and_headers(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    response = client.post(
        demo.router_url + "/api/echo?region=west&q=a%20b",
        content=b'{"hello": "world"}',
        headers={"x-request-id": "abc-123", "content-type": "application/json", "connection": "keep-alive, x-hop", "x-hop": "drop me"},
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["path"] == "/api/echo"
    assert echo["query"] == "region=west&q=a%20b"
    assert echo["body"] == '{"hello": "world"}'
    assert echo["headers"]["x-request-id"] == "abc-123"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert echo["headers"]["x-forwarded-host"] == f"127.0.0.1:{demo.port}"
    assert "x-hop" not in echo["headers"]  # named in Connection: hop-by-hop
    assert response.headers["x-odin-version"] == "blue"
    assert response.headers["content-type"] == "application/json"


def test_router_forwards_a_chunked_body_and_head_requests(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    chunked = client.put(demo.router_url + "/api/echo", content=iter([b"part one, ", b"part two"]))
    assert chunked.json()["body"] == "part one, part two"
    head = client.head(demo.router_url + "/health")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(client.get(demo.router_url + "/health").content)


def test_admin_paths_are_never_proxied(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    response = client.get(demo.router_url + "/_admin/no-such-thing")
    assert response.status_code == 404
    assert "x-odin-version" not in response.headers
    assert "GET /_admin/weights" in response.json()["endpoints"]
    index = client.get(demo.admin_url).json()
    assert index["router_url"] == demo.router_url and index["version_urls"] == demo.version_urls
    assert demo.stats()["router"]["requests"] == 0


# weights through the admin API -------------------------------------------------------------------
def test_weights_can_be_read_and_set_with_put_or_post_idempotently(start_demo, client):
    demo = start_demo(latency_median_ms=0)
    assert client.get(demo.admin_url + "/weights").json() == {"blue": 100, "green": 0}
    for method in ("PUT", "POST", "PUT"):
        response = client.request(method, demo.admin_url + "/weights", json={"blue": 75, "green": 25})
        assert response.status_code == 200 and response.json() == {"blue": 75, "green": 25}
    assert client.get(demo.admin_url + "/weights").json() == {"blue": 75, "green": 25}
    assert demo.weights() == {"blue": 75, "green": 25}


@pytest.mark.parametrize(
    ("payload", "named_problem"),
    [
        ({"blue": 90, "green": 5}, "must sum to 100, got 95"),
        ({"blue": 90, "green": 5, "purple": 5}, "unknown version 'purple'"),
        ({"blue": 100}, "missing weight for 'green'"),
        ({"blue": 90.5, "green": 9.5}, "blue must be an integer"),
        ({"blue": "90", "green": "10"}, "blue must be an integer"),
        ({"blue": 110, "green": -10}, "blue must be <= 100"),
        ({"blue": True, "green": 0}, "blue must be an integer"),
        ([90, 10], "must be a JSON object"),
        ("not json at all", "not valid JSON"),
    ],
)
def test_invalid_weights_are_rejected_with_the_problem_named_and_nothing_changes(start_demo, client, payload, named_problem):
    demo = start_demo(latency_median_ms=0)
    demo.set_weights(blue=80, green=20)
    body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    response = client.put(demo.admin_url + "/weights", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert named_problem in response.json()["error"], response.json()
    assert client.get(demo.admin_url + "/weights").json() == {"blue": 80, "green": 20}


def test_python_api_rejects_invalid_weights_the_same_way(start_demo):
    demo = start_demo(latency_median_ms=0)
    with pytest.raises(InvalidWeights, match="must sum to 100, got 110"):
        demo.set_weights(blue=100, green=10)
    with pytest.raises(ValueError, match="unknown version 'purple'"):
        demo.set_weights({"blue": 50, "purple": 50})
    assert demo.weights() == {"blue": 100, "green": 0}


# faults ------------------------------------------------------------------------------------------
def test_error_fault_on_green_fails_every_green_response_while_blue_stays_healthy(start_demo, client):
    demo = start_demo(error_rate=0.02, latency_median_ms=0)
    demo.set_weights(blue=50, green=50)
    created = client.post(demo.admin_url + "/faults", json={"version": "green", "error_rate": 1.0})
    assert created.status_code == 201
    assert created.json()["state"] == "active"
    responses = get_many(demo.router_url + "/api/orders/3", 400)
    green = [r for r in responses if r.headers["x-odin-version"] == "green"]
    blue = [r for r in responses if r.headers["x-odin-version"] == "blue"]
    assert len(green) > 100 and len(blue) > 100
    assert all(r.status_code == 500 and r.json()["kind"] == "fault" for r in green)
    blue_errors = sum(r.status_code >= 500 for r in blue)
    assert blue_errors / len(blue) < 0.10


def test_latency_fault_adds_about_the_injected_milliseconds(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=8)
    green = demo.version_urls["green"] + "/health"
    before = statistics.median(timed_gets(client, green, 25))
    demo.reset_stats()
    demo.add_fault("green", latency_ms=50)
    after = statistics.median(timed_gets(client, green, 25))
    assert 40 <= after - before <= 80, (before, after)
    server_side = demo.stats()["versions"]["green"]["latency_ms"]
    assert 50 <= server_side["p50"] <= 90, server_side


@pytest.mark.parametrize("when", ["start_after_seconds", "start_at"])
def test_a_fault_can_start_later(start_demo, client, when):
    demo = start_demo(error_rate=0.0, latency_median_ms=1)
    fault: dict[str, object] = {"version": "green", "error_rate": 1.0}
    if when == "start_after_seconds":
        fault["start_after_seconds"] = 0.6
    else:
        fault["start_at"] = (datetime.now(timezone.utc) + timedelta(seconds=0.6)).isoformat()
    created = client.post(demo.admin_url + "/faults", json=fault).json()
    assert created["state"] == "pending"
    green = demo.version_urls["green"] + "/health"
    assert [client.get(green).status_code for _ in range(5)] == [200] * 5
    time.sleep(0.7)
    assert [client.get(green).status_code for _ in range(5)] == [500] * 5
    assert client.get(demo.admin_url + "/faults").json()["faults"][0]["state"] == "active"


def test_a_fault_with_a_duration_ends_by_itself(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    demo.add_fault("blue", error_rate=1.0, duration_seconds=0.3)
    assert client.get(demo.version_urls["blue"] + "/health").status_code == 500
    time.sleep(0.4)
    assert client.get(demo.version_urls["blue"] + "/health").status_code == 200
    assert demo.faults()[0]["state"] == "expired"


def test_delete_faults_clears_them_all(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    demo.add_fault("green", error_rate=1.0)
    client.post(demo.admin_url + "/faults", json={"version": "blue", "latency_ms": 100})
    assert len(client.get(demo.admin_url + "/faults").json()["faults"]) == 2
    assert client.delete(demo.admin_url + "/faults").json() == {"cleared": 2}
    assert client.get(demo.admin_url + "/faults").json() == {"faults": []}
    assert client.get(demo.version_urls["green"] + "/health").status_code == 200


@pytest.mark.parametrize(
    ("fault", "named_problem"),
    [
        ({"version": "purple", "error_rate": 0.5}, "version must be one of"),
        ({"version": "green", "error_rate": 1.5}, "error_rate must be <= 1"),
        ({"version": "green"}, "needs error_rate > 0 or latency_ms > 0"),
        ({"version": "green", "latency_ms": 5, "colour": "red"}, "unknown field 'colour'"),
        ({"version": "green", "error_rate": 0.1, "start_after_seconds": 1, "start_at": "2030-01-01T00:00:00Z"}, "not both"),
        ({"version": "green", "error_rate": 0.1, "start_at": "next tuesday"}, "start_at"),
    ],
)
def test_invalid_faults_are_rejected_with_the_problem_named(start_demo, client, fault, named_problem):
    demo = start_demo(latency_median_ms=0)
    response = client.post(demo.admin_url + "/faults", json=fault)
    assert response.status_code == 400
    assert named_problem in response.json()["error"], response.json()
    assert demo.faults() == []
    with pytest.raises(InvalidFault):
        demo.add_fault("green")


# stats -------------------------------------------------------------------------------------------
def test_stats_report_counts_and_latency_percentiles_and_reset(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=8, latency_sigma=0.35)
    fetch_many(demo.router_url + "/api/orders/9", 400)
    stats = client.get(demo.admin_url + "/stats").json()
    blue = stats["versions"]["blue"]
    assert blue["requests"] == 400 and blue["errors"] == 0
    latency = blue["latency_ms"]
    # lognormal(median 8 ms, sigma 0.35): p50 8.0, p95 14.2, p99 17.9, plus timer overshoot.
    # A sleep never ends early, so the lower bounds are firm; a busy CPU (CI, other jobs)
    # really does make the service slower, so the upper bounds only catch a unit mistake.
    assert latency["samples"] == 400
    assert 7.0 <= latency["p50"] <= 30.0, latency
    assert 12.0 <= latency["p95"] <= 60.0, latency
    assert latency["p50"] <= latency["p95"] <= latency["p99"]
    router = stats["router"]
    assert router["requests"] == 400 and router["latency_ms"]["p95"] >= latency["p50"]
    reset = client.post(demo.admin_url + "/stats/reset").json()
    assert reset["versions"]["blue"]["requests"] == 0 and reset["router"]["latency_ms"]["p95"] is None


def test_latency_window_percentiles_are_within_half_a_percent_and_old_samples_leave():
    now = [0.0]
    window = LatencyWindow(lambda: now[0], window_seconds=10.0)
    for ms in range(1, 101):  # 1..100 ms
        window.add(float(ms))
    summary = window.summary()
    assert summary["samples"] == 100 and summary["mean"] == 50.5
    assert summary["p50"] == pytest.approx(50, rel=0.005)
    assert summary["p95"] == pytest.approx(95, rel=0.005)
    assert summary["p99"] == pytest.approx(99, rel=0.005)
    now[0] = 10.5  # every sample is now older than the window
    assert window.summary()["samples"] == 0 and window.summary()["p95"] is None
    window.add(7.0)
    assert window.summary()["samples"] == 1 and window.summary()["p99"] == pytest.approx(7.0, rel=0.005)


# lifecycle ---------------------------------------------------------------------------------------
def test_a_fixed_router_port_is_used(start_demo, client):
    port = free_port()
    demo = start_demo(port=port, latency_median_ms=0, error_rate=0.0)
    assert demo.router_url == f"http://127.0.0.1:{port}" and demo.port == port
    assert client.get(f"http://127.0.0.1:{port}/health").status_code == 200


def test_context_manager_starts_fast_and_stops_every_server_and_thread(client):
    threads_before = set(threading.enumerate())
    port = free_port()
    started = time.perf_counter()
    with BlueGreenDemo(seed=1, port=port, latency_median_ms=0) as demo:
        assert time.perf_counter() - started < 1.5
        ports = [demo.port, *(port_of(url) for url in demo.version_urls.values())]
        client.get(demo.router_url + "/health")  # leaves a keep-alive connection open
        stopping = time.perf_counter()
    assert time.perf_counter() - stopping < 1.0
    assert all(refuses_connections(p) for p in ports)
    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(DemoNotRunning):
        demo.weights()
    with BlueGreenDemo(seed=1, port=port, latency_median_ms=0) as again:  # the port is free again
        assert httpx.get(again.router_url + "/health", timeout=5).headers["x-odin-version"] == "blue"


def test_a_taken_port_fails_to_start_cleanly():
    from odin_drills.sandbox.bluegreen import DemoStartFailed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        threads_before = set(threading.enumerate())
        with pytest.raises(DemoStartFailed, match=f"cannot listen on 127.0.0.1:{port}"):
            BlueGreenDemo(port=port).start()
        assert set(threading.enumerate()) <= threads_before


def test_serve_prints_its_urls_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "odin_drills.sandbox.bluegreen", "--port", "0", "--seed", "3", "--weights", "blue=90,green=10"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["weights"] == {"blue": 90, "green": 10}
        assert ready["admin_url"] == ready["router_url"] + "/_admin"
        assert httpx.get(ready["version_urls"]["green"] + "/health", timeout=5).headers["x-odin-version"] == "green"
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.perf_counter() - stopping < 1.0
        assert refuses_connections(port_of(ready["router_url"]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# the wire ----------------------------------------------------------------------------------------
def test_pipelined_and_http10_requests_are_answered_in_order(start_demo):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    with socket.create_connection(("127.0.0.1", demo.port), timeout=5) as sock:
        sock.sendall(
            b"GET /api/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/orders/2 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/orders/3 HTTP/1.0\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0]) for part in received.split(b"HTTP/1.1 200")[1:]]
    assert [body["id"] for body in bodies] == [1, 2, 3]
    assert received.rstrip().endswith(b"}")


def test_a_malformed_request_gets_400_and_the_connection_closes(start_demo):
    demo = start_demo(latency_median_ms=0)
    with socket.create_connection(("127.0.0.1", demo.port), timeout=5) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in received


def test_router_answers_502_naming_the_version_when_it_is_unreachable(start_demo, client):
    demo = start_demo(error_rate=0.0, latency_median_ms=0)
    green_server = demo._servers["green"]
    asyncio.run_coroutine_threadsafe(green_server.stop(0.0), demo._loop).result(timeout=5)
    demo.set_weights(blue=0, green=100)
    response = client.get(demo.router_url + "/health")
    assert response.status_code == 502
    assert response.headers["x-odin-version"] == "green" and response.headers["x-odin-error"] == "upstream"
    assert demo.stats()["router"]["upstream_failures"] == 1


def test_upstream_pool_reports_a_closed_port_as_502():
    async def run() -> UpstreamError:
        pool = UpstreamPool("127.0.0.1", free_port(), timeout=2.0)
        with pytest.raises(UpstreamError) as caught:
            await pool.request("GET", "/health")
        pool.close()
        return caught.value

    assert asyncio.run(run()).status == 502

