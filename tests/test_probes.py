"""The probe's and the smoke journeys' promises, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from http_servers import refusing_url, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from odin_drills.plan.journeys import SmokeJourney, SyntheticProbe
from odin_drills.steps.clock import ManualClock, RealClock, ScaledClock
from odin_drills.steps.probes import MetricSource, ProbeClosed, SmokeReport, SyntheticProbeSource, run_journeys
from odin_drills.steps.probes.synthetic import nearest_rank, parse_error_statuses


class ProbedService:
    """A test service that records when each request arrived, and can stall on cue."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.stall_at_request: int | None = None
        self.stall_seconds = 0.0
        self.stall_began: float | None = None
        self._release = 0.0
        self.app = Starlette(routes=[
            Route("/ok", self.ok),
            Route("/slow", self.slow),
            Route("/every-fourth-fails", self.every_fourth_fails),
            Route("/missing", self.missing),
            Route("/headers", self.headers),
            Route("/stalls", self.stalls),
        ])

    async def ok(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        return PlainTextResponse("ok")

    async def slow(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        await asyncio.sleep(float(request.query_params.get("ms", "50")) / 1000)
        return PlainTextResponse("ok")

    async def every_fourth_fails(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        return PlainTextResponse("boom", status_code=500 if len(self.arrivals) % 4 == 0 else 200)

    async def headers(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        self.seen_headers = dict(request.headers)
        return PlainTextResponse("ok")

    async def missing(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        return PlainTextResponse("no such thing", status_code=404)

    async def stalls(self, request: Request) -> Response:
        """Request number ``stall_at_request`` freezes the service: nothing answers for a while."""
        now = time.monotonic()
        self.arrivals.append(now)
        if len(self.arrivals) == self.stall_at_request:
            self.stall_began, self._release = now, now + self.stall_seconds
        if self._release > now:
            await asyncio.sleep(self._release - now)
        return PlainTextResponse("ok")


@pytest.fixture
def service():
    probed = ProbedService()
    with serve(probed.app) as base:
        probed.base = base
        yield probed


def probe_spec(url: str, **fields) -> SyntheticProbe:
    return SyntheticProbe.model_validate({"url": url, "rate_per_second": 200, "timeout": 2, **fields})


def measure(spec: SyntheticProbe, plan_seconds: float, clock=None):
    with SyntheticProbeSource(spec, clock or RealClock()) as probe:
        snapshot = probe.measure(plan_seconds)
        return snapshot, probe.last_window


# -- the synthetic probe ------------------------------------------------------------------------


def test_probe_sends_rate_times_window_requests_and_the_server_receives_them_on_schedule(service):
    snapshot, window = measure(probe_spec(f"{service.base}/ok", rate_per_second=200), 1.5)

    assert snapshot.requests == 300
    assert snapshot.errors == 0
    assert len(service.arrivals) == 300
    span = service.arrivals[-1] - service.arrivals[0]
    # On schedule, or late by no more than the probe itself reports (a busy CI worker delays sends;
    # the probe must say so rather than pretend it kept the rate).
    late = window.max_send_lag_ms / 1000
    assert 1.3 < span < 1.75 + late, (
        f"300 requests at 200 req/s should arrive over ~1.5 s (+{late:.2f} s reported lag), took {span:.2f} s")
    assert window.achieved_rate_per_second == pytest.approx(299 / span, rel=0.1)
    if late < 0.05:
        assert window.achieved_rate_per_second == pytest.approx(200, rel=0.1)
    assert len(snapshot.latency_samples_ms) == 300
    assert snapshot.source == f"synthetic_probe {service.base}/ok"
    assert snapshot.started_at < snapshot.ended_at


def test_latency_percentiles_reflect_the_servers_delay(service):
    snapshot, _ = measure(probe_spec(f"{service.base}/slow?ms=60", rate_per_second=50), 1.0)

    assert snapshot.requests == 50 and snapshot.errors == 0
    assert 60 <= snapshot.latency_ms.p50 < 110
    assert snapshot.latency_ms.p50 <= snapshot.latency_ms.p95 <= snapshot.latency_ms.p99 < 250
    assert min(snapshot.latency_samples_ms) >= 60


def test_500s_count_as_errors(service):
    snapshot, _ = measure(probe_spec(f"{service.base}/every-fourth-fails", rate_per_second=100), 1.0)

    assert snapshot.requests == 100
    assert snapshot.errors == 25


def test_4xx_counts_as_an_error_only_when_the_plan_says_so(service):
    only_5xx, _ = measure(probe_spec(f"{service.base}/missing", rate_per_second=50), 0.4)
    with_4xx, _ = measure(probe_spec(f"{service.base}/missing", rate_per_second=50, error_statuses="4xx,5xx"), 0.4)

    assert (only_5xx.requests, only_5xx.errors) == (20, 0)
    assert (with_4xx.requests, with_4xx.errors) == (20, 20)


def test_connection_refused_counts_every_request_as_an_error():
    with refusing_url("/health") as url:
        snapshot, _ = measure(probe_spec(url, rate_per_second=100), 0.5)

    assert snapshot.requests == 50
    assert snapshot.errors == 50
    assert snapshot.latency_ms.p99 < 1000, "a refusal is quick; its latency is the time until it failed"


def test_timeouts_count_as_errors_with_the_timeout_as_latency(service):
    snapshot, _ = measure(probe_spec(f"{service.base}/slow?ms=2000", rate_per_second=20, timeout=0.25), 0.5)

    assert (snapshot.requests, snapshot.errors) == (10, 10)
    assert 250 <= snapshot.latency_ms.p50 < 600


def test_requests_in_flight_when_the_window_ends_are_awaited_and_counted(service):
    started = time.monotonic()
    snapshot, _ = measure(probe_spec(f"{service.base}/slow?ms=300", rate_per_second=20), 0.5)
    took = time.monotonic() - started

    assert (snapshot.requests, snapshot.errors) == (10, 0)
    assert min(snapshot.latency_samples_ms) >= 300
    assert took >= 0.5 + 0.3 - 0.05


def test_probe_is_open_loop_a_stall_shows_as_latency_not_as_fewer_requests(service):
    service.stall_at_request, service.stall_seconds = 200, 0.3
    snapshot, _ = measure(probe_spec(f"{service.base}/stalls", rate_per_second=200), 2.0)

    assert snapshot.requests == 400 and snapshot.errors == 0
    assert len(service.arrivals) == 400
    began = service.stall_began
    during_stall = [t for t in service.arrivals if began < t < began + 0.3]
    # 200 req/s for 0.3 s is 60 requests; a closed-loop client would send next to none.
    assert len(during_stall) >= 40, f"only {len(during_stall)} requests arrived while the service stalled"
    assert snapshot.latency_ms.p99 >= 200, "the stall must show in the tail"
    assert snapshot.latency_ms.p50 < 100, "most requests were not stalled"


def test_probe_sends_the_plans_headers(service):
    spec = probe_spec(f"{service.base}/headers", rate_per_second=20,
                      headers={"Authorization": "Bearer t", "User-Agent": "shop-probe"})
    snapshot, _ = measure(spec, 0.2)

    assert (snapshot.requests, snapshot.errors) == (4, 0)
    assert service.seen_headers["authorization"] == "Bearer t"
    assert service.seen_headers["user-agent"] == "shop-probe"


def test_probe_speaks_https_with_the_given_trust(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    service = ProbedService()
    with serve(service.app, ssl_certfile=str(tmp_path / "cert.pem"), ssl_keyfile=str(tmp_path / "key.pem")) as base:
        spec = probe_spec(f"{base}/ok", rate_per_second=50)
        with SyntheticProbeSource(spec, RealClock(), verify=trust) as probe:
            trusted = probe.measure(0.2)
        with SyntheticProbeSource(spec, RealClock()) as probe:
            untrusted = probe.measure(0.2)

    assert base.startswith("https://")
    assert (trusted.requests, trusted.errors) == (10, 0)
    assert (untrusted.requests, untrusted.errors) == (10, 10), "an unknown CA must fail verification"


def test_scaled_clock_a_60s_plan_window_at_scale_60_takes_about_one_real_second(service):
    clock = ScaledClock(scale=60)
    spec = probe_spec(f"{service.base}/ok", rate_per_second=100, min_window_wall_seconds=0.1)
    started = time.monotonic()
    snapshot, _ = measure(spec, 60.0, clock)
    took = time.monotonic() - started

    assert 0.95 <= took < 2.0
    assert snapshot.requests == 100, "rate_per_second is per real second"
    assert (snapshot.ended_at - snapshot.started_at).total_seconds() >= 60


def test_scaled_clock_window_never_lasts_less_than_min_window_wall_seconds(service):
    spec = probe_spec(f"{service.base}/ok", rate_per_second=100, min_window_wall_seconds=1.2)
    started = time.monotonic()
    snapshot, _ = measure(spec, 60.0, ScaledClock(scale=600))  # 0.1 s of wall time without the floor
    took = time.monotonic() - started

    assert snapshot.requests == 120
    assert 1.15 <= took < 2.5


def test_real_clock_ignores_the_rehearsal_floor(service):
    spec = probe_spec(f"{service.base}/ok", rate_per_second=100, min_window_wall_seconds=3)
    snapshot, _ = measure(spec, 0.3, RealClock())

    assert snapshot.requests == 30


def test_manual_clock_window_sends_nothing_and_advances_plan_time():
    clock = ManualClock()
    before = clock.now()
    with refusing_url() as url:
        snapshot, _ = measure(probe_spec(url), 300.0, clock)

    assert snapshot.requests == 0 and snapshot.latency_ms.p99 == 0
    assert (clock.now() - before).total_seconds() == 300


def test_probe_measures_repeatedly_from_other_threads_and_close_releases_everything(service):
    probe = SyntheticProbeSource(probe_spec(f"{service.base}/ok", rate_per_second=100), RealClock())
    try:
        assert isinstance(probe, MetricSource)
        with ThreadPoolExecutor(max_workers=2) as pool:
            snapshots = list(pool.map(probe.measure, [0.3, 0.3, 0.3]))
        assert [s.requests for s in snapshots] == [30, 30, 30]
        assert sum(s.errors for s in snapshots) == 0
    finally:
        probe.close()
    assert not probe._thread.is_alive()
    assert probe._loop.is_closed()
    probe.close()  # idempotent
    with pytest.raises(ProbeClosed):
        probe.measure(0.1)


def test_close_during_a_window_ends_it_promptly(service):
    probe = SyntheticProbeSource(probe_spec(f"{service.base}/slow?ms=100", rate_per_second=50), RealClock())
    outcome: list[BaseException | object] = []

    def window() -> None:
        try:
            outcome.append(probe.measure(30.0))
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    worker = threading.Thread(target=window)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    probe.close()
    worker.join(timeout=5)

    assert time.monotonic() - started < 3
    assert len(outcome) == 1 and isinstance(outcome[0], ProbeClosed)
    assert not probe._thread.is_alive()


def test_error_statuses_are_parsed_and_bad_ones_rejected():
    assert parse_error_statuses("5xx") == frozenset(range(500, 600))
    assert parse_error_statuses("4xx, 5xx") == frozenset(range(400, 600))
    assert parse_error_statuses("429,5xx") == frozenset([429, *range(500, 600)])
    with pytest.raises(ValueError, match="not a status class"):
        parse_error_statuses("server errors")


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [nearest_rank(values, p) for p in (50, 95, 99)] == [50.0, 95.0, 99.0]
    assert nearest_rank([7.0], 99) == 7.0
    assert nearest_rank([], 50) == 0.0


# -- smoke journeys -----------------------------------------------------------------------------


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "db": {"ok": True}, "version": "1.2", "replicas": [1, 2]})


async def degraded(request: Request) -> Response:
    return JSONResponse({"status": "degraded"}, status_code=503)


async def text(request: Request) -> Response:
    return PlainTextResponse("hello world")


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("ms", "300")) / 1000)
    return PlainTextResponse("ok")


FLAKY_CALLS: dict[str, int] = {}


async def flaky(request: Request) -> Response:
    """Fails the first ``fails`` calls for a given ``key``, then answers 200."""
    key = request.query_params["key"]
    FLAKY_CALLS[key] = FLAKY_CALLS.get(key, 0) + 1
    if FLAKY_CALLS[key] <= int(request.query_params["fails"]):
        return PlainTextResponse("try again", status_code=503)
    return PlainTextResponse("ok")


async def echo(request: Request) -> Response:
    return JSONResponse({"got": await request.json(), "authorized": "authorization" in request.headers})


@pytest.fixture(scope="module")
def smoke_service():
    app = Starlette(routes=[
        Route("/health", health), Route("/degraded", degraded), Route("/text", text),
        Route("/slow", slow), Route("/echo", echo, methods=["POST"]), Route("/flaky", flaky),
    ])
    with serve(app) as base:
        yield base


def journey(**fields) -> SmokeJourney:
    """A journey tried once, unless the test asks for retries."""
    return SmokeJourney.model_validate({"name": "j", "retries": 0, **fields})


def only(report: SmokeReport):
    assert len(report.results) == 1
    return report.results[0]


def test_journey_passes_on_status_substring_and_jsonpath(smoke_service):
    report = run_journeys([journey(url=f"{smoke_service}/health", **{"assert": [
        {"contains": '"status":"ok"'},
        {"jsonpath": "$.version"},
        {"jsonpath": "$.status", "equals": "ok"},
        {"jsonpath": "$.db.ok", "equals": True},
        {"jsonpath": "$.replicas[*]", "equals": [1, 2]},
    ]})])

    result = only(report)
    assert result.passed, result.failures
    assert result.status == 200 and result.latency_ms > 0
    assert report.passed and report.critical_failed == report.noncritical_failed == 0


def test_wrong_status_is_a_failure(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/degraded")]))

    assert not result.passed
    assert result.status == 503
    assert result.failures == ["expected status 200, got 503"]


def test_expect_status_can_list_several(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/degraded", expect_status=[200, 503])]))
    assert result.passed


def test_missing_substring_is_a_failure(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/text", **{"assert": [{"contains": "banana"}]})]))
    assert result.failures == ["body does not contain 'banana'"]


def test_jsonpath_value_and_existence_failures_read_plainly(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/degraded", expect_status=503, **{"assert": [
        {"jsonpath": "$.status", "equals": "ok"},
        {"jsonpath": "$.uptime"},
    ]})]))

    assert result.failures == ["$.status is 'degraded', expected 'ok'", "$.uptime not found in body"]


def test_jsonpath_on_a_body_that_is_not_json_fails_once(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/text", **{"assert": [
        {"jsonpath": "$.a"}, {"jsonpath": "$.b", "equals": 1},
    ]})]))
    assert result.failures == ["body is not JSON, so JSONPath assertions cannot be checked"]


def test_jsonpath_true_is_not_one(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/health", **{"assert": [
        {"jsonpath": "$.db.ok", "equals": 1},
    ]})]))
    assert result.failures == ["$.db.ok is True, expected 1"]


def test_slow_answer_over_its_latency_budget_fails(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/slow?ms=300", latency_budget_ms=100)]))

    assert result.status == 200 and result.latency_ms >= 300
    assert len(result.failures) == 1
    assert re.fullmatch(r"took \d+ ms > budget 100 ms", result.failures[0])


def test_timeout_is_a_failure_with_a_clear_reason(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/slow?ms=2000", timeout="200ms")]))

    assert not result.passed and result.status is None
    assert result.failures[0].startswith(f"no answer from {smoke_service}/slow?ms=2000 within 0.2 s")
    assert result.latency_ms < 1500


def test_connection_refused_is_a_failure_not_an_exception():
    with refusing_url("/health") as url:
        report = run_journeys([journey(url=url)])

    result = only(report)
    assert not result.passed and result.status is None
    assert result.failures == [f"connection refused to {url}"]
    assert report.critical_failed == 1


def test_critical_and_noncritical_failures_are_counted_apart(smoke_service):
    report = run_journeys([
        journey(name="home", url=f"{smoke_service}/health"),
        journey(name="checkout", url=f"{smoke_service}/degraded"),
        journey(name="avatar", url=f"{smoke_service}/degraded", critical=False),
        journey(name="search", url=f"{smoke_service}/text", critical=False, **{"assert": [{"contains": "zzz"}]}),
        journey(name="about", url=f"{smoke_service}/text", critical=False),
    ])

    assert [r.passed for r in report.results] == [True, False, False, False, True]
    assert report.critical_failed == 1
    assert report.noncritical_failed == 2
    assert not report.passed


def test_only_noncritical_failures_still_mean_not_passed(smoke_service):
    report = run_journeys([journey(url=f"{smoke_service}/degraded", critical=False)])
    assert (report.critical_failed, report.noncritical_failed, report.passed) == (0, 1, False)


def test_json_body_and_headers_are_sent(smoke_service):
    result = only(run_journeys([journey(
        method="POST", url=f"{smoke_service}/echo", headers={"Authorization": "Bearer t0k3n"},
        json={"order": 7}, **{"assert": [
            {"jsonpath": "$.got.order", "equals": 7}, {"jsonpath": "$.authorized", "equals": True},
        ]},
    )]))
    assert result.passed, result.failures


def test_failure_messages_never_contain_header_values(smoke_service):
    secret = "Bearer s3cr3t-t0k3n"
    with refusing_url("/x") as refused:
        report = run_journeys([
            journey(url=f"{smoke_service}/degraded", headers={"Authorization": secret},
                    **{"assert": [{"contains": "zzz"}, {"jsonpath": "$.status", "equals": "ok"}]}),
            journey(url=refused, headers={"Authorization": secret}),
            journey(url=f"{smoke_service}/health", headers={"X-Token": "bad\nvalue s3cr3t"}),
        ])

    messages = [m for r in report.results for m in r.failures]
    assert len(messages) >= 4 and all(not r.passed for r in report.results)
    assert not any("s3cr3t" in m for m in messages), messages
    assert "s3cr3t" not in report.model_dump_json()


def test_userinfo_in_a_url_is_not_repeated_in_failures():
    with refusing_url("/health") as url:
        with_user = url.replace("http://", "http://admin:hunter2@")
        result = only(run_journeys([journey(url=with_user)]))

    assert result.failures == [f"connection refused to {url}"]


def test_a_given_client_is_used_and_left_open(smoke_service):
    with httpx.Client() as client:
        report = run_journeys([journey(url=f"{smoke_service}/health")], client=client)
        assert report.passed
        assert not client.is_closed


def test_smoke_journey_retries_before_failing() -> None:
    """A journey that fails once then passes is a pass; one that always fails reports every attempt."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from odin_drills.plan.journeys import SmokeJourney
    from odin_drills.steps.probes import run_journeys

    calls = {"n": 0}

    class Flaky(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            calls["n"] += 1
            status = 500 if (self.path == "/always" or calls["n"] == 1) else 200
            body = b'{"status": "ok"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        flaky = SmokeJourney(name="flaky", url=f"{base}/once", retries=2, retry_delay=0)
        broken = SmokeJourney(name="broken", url=f"{base}/always", retries=2, retry_delay=0)
        single = SmokeJourney(name="single", url=f"{base}/always", retries=0)
        with httpx.Client() as client:
            report = run_journeys([flaky, broken, single], client=client)
        by_name = {r.name: r for r in report.results}
        assert by_name["flaky"].passed
        assert not by_name["broken"].passed and len(by_name["broken"].failures) == 3
        assert by_name["broken"].failures[0].startswith("attempt 1: expected status 200, got 500")
        assert not by_name["single"].passed and len(by_name["single"].failures) == 1
        assert report.critical_failed == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_journey_that_passes_on_a_retry_passes(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/flaky?key=once&fails=1", retries=2, retry_delay=0.01)]))

    assert result.passed and result.status == 200 and result.failures == []
    assert FLAKY_CALLS["once"] == 2


def test_a_journey_that_fails_every_attempt_reports_each_one(smoke_service):
    result = only(run_journeys([journey(url=f"{smoke_service}/flaky?key=always&fails=99", retries=2, retry_delay=0.01)]))

    assert not result.passed
    assert result.failures == [f"attempt {n}: expected status 200, got 503" for n in (1, 2, 3)]
    assert FLAKY_CALLS["always"] == 3
