"""The synthetic probe: an open-loop HTTP load that measures what a user would see.

Open-loop means requests leave on a fixed schedule — request ``i`` is due at ``t0 + i / rate`` —
and each is sent when it is due whether or not earlier ones have answered. A closed-loop tester
(send, wait, send) slows down when the server stalls and so hides the stall ("coordinated
omission"); this probe keeps sending, and a stall shows up as latency, never as fewer requests.

Latency is counted from the moment each request's task starts — before it waits for a connection,
so a server that stalls or runs out of connections still shows up in full. What it leaves out is
the probe's *own* lateness: a starved event loop (another process hogging the CPU) starts tasks
after their due time, and that delay says nothing about the service. It is measured separately
(``WindowStats.max_send_lag_ms``) and logged. Measured on a busy 2-core machine, counting it as
latency turned 4 ms p95s into 80 ms and triggered false latency rollbacks.

Rates and windows:

* ``rate_per_second`` is requests per **real** second, whatever the clock's scale: the service
  sees the same load in a rehearsal as in the real drill.
* A window of ``plan_seconds`` sends for ``clock.wall_seconds(plan_seconds)`` real seconds. Under
  a scaled clock (``scale != 1``) it never sends for less than ``spec.min_window_wall_seconds``,
  so a rehearsal at scale 3600 still judges real requests. On a clock with ``scale == 1`` whose
  ``wall_seconds`` is 0 (``ManualClock``) a window sends nothing.
* Requests still in flight when the sending stops are awaited (each for at most ``spec.timeout``
  after it was sent) and counted in this window.
* The window runs inside ``clock.window(plan_seconds, wall)``, so it advances plan time by exactly
  ``plan_seconds`` however long its real-time floor made it (``odin_drills.steps.clock``): a
  5-minute gate window is 5 plan minutes at any scale. Its snapshot spans that plan interval.

Counting: every scheduled request is counted in ``requests``. A status matched by
``spec.error_statuses``, a timeout, a refused or reset connection all count as errors; their
latency is the time from the send until the failure (a timeout: ``spec.timeout``). Percentiles are nearest-rank over all requests, errors included — the same
population as ``latency_samples_ms``.

How it holds 1,000 req/s on two cores: one asyncio event loop in a background thread, kept across
windows, schedules the requests; each due request becomes a task that takes an idle keep-alive
connection from a stack (or opens one) and speaks HTTP/1.1 on it through ``httpcore``, the engine
under httpx. That costs O(1) per request. ``httpx.AsyncClient`` — one shared or several — scans its
whole pool on every request event; once a stall piles up connections that cost grows, the loop
falls behind its schedule and never catches up (measured in ``bench/results/probe_fidelity.md``).
The probe goes straight to the URL: proxy environment variables are not used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import ssl
import threading
from dataclasses import dataclass
from typing import Protocol

import httpcore
import httpx

from odin_drills.plan.journeys import SyntheticProbe
from odin_drills.steps.clock import Clock, measurement_window
from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 512
KEEPALIVE_EXPIRY_SECONDS = 60.0
USER_AGENT = "odin-drills-probe"


class ProbeClosed(RuntimeError):
    """``measure`` was called on, or interrupted by, a closed probe."""


@dataclass(frozen=True)
class WindowStats:
    """How faithfully the probe kept its schedule in the last window (for benchmarks and logs)."""

    requests: int
    wall_seconds: float
    achieved_rate_per_second: float
    max_send_lag_ms: float
    p99_send_lag_ms: float


def parse_error_statuses(text: str) -> frozenset[int]:
    """``"5xx"`` or ``"4xx,5xx"`` (exact codes like ``"429"`` work too) → the statuses that are errors."""
    statuses: set[int] = set()
    for raw in text.split(","):
        token = raw.strip().lower()
        if len(token) == 3 and token[0] in "12345" and token[1:] == "xx":
            base = int(token[0]) * 100
            statuses.update(range(base, base + 100))
        elif len(token) == 3 and token.isdigit() and 100 <= int(token) <= 599:
            statuses.add(int(token))
        else:
            raise ValueError(
                f"error_statuses: {raw.strip()!r} is not a status class like '5xx' or a code like '429'"
            )
    return frozenset(statuses)


def nearest_rank(sorted_values: list[float], percent: int) -> float:
    """The nearest-rank percentile: the smallest value with at least ``percent``% at or below it."""
    if not sorted_values:
        return 0.0
    rank = max(1, (percent * len(sorted_values) + 99) // 100)
    return sorted_values[rank - 1]


def window_wall_seconds(spec: SyntheticProbe, clock: Clock, plan_seconds: float) -> float:
    """Real seconds a window of ``plan_seconds`` sends for (the rehearsal floor included)."""
    floor = spec.min_window_wall_seconds if clock.scale != 1 else 0.0
    return max(clock.wall_seconds(plan_seconds), floor)


class RequestSender(Protocol):
    """Sends the probe's one request and returns the status; lives on the probe's event loop."""

    async def send(self) -> int: ...

    async def aclose(self) -> None: ...


class ConnectionStack:
    """Keep-alive HTTP/1.1 connections to one URL, reused last in, first out.

    A request takes the most recently idle connection (dropping any the server has closed) or opens
    a new one, so a burst opens as many connections as it needs and a quiet period reuses few. At
    most ``max_connections`` are open; past that, requests wait for one (timed from when
    they were sent, so the wait shows as latency).
    """

    def __init__(
        self,
        url: str,
        method: str,
        headers: dict[str, str],
        ssl_context: ssl.SSLContext,
        max_connections: int,
    ) -> None:
        self._url = httpcore.URL(url)
        default_port = 443 if self._url.scheme == b"https" else 80
        self._origin = httpcore.Origin(self._url.scheme, self._url.host, self._url.port or default_port)
        self._method = method.encode()
        given = {name.lower() for name in headers}
        defaults = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        merged = {k: v for k, v in defaults.items() if k.lower() not in given} | headers
        self._headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]
        self._ssl_context = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[httpcore.AsyncHTTPConnection] = []
        self._busy: set[httpcore.AsyncHTTPConnection] = set()
        self._closing: set[asyncio.Task] = set()

    def _take(self) -> httpcore.AsyncHTTPConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection
            self._discard(connection)
        return httpcore.AsyncHTTPConnection(
            self._origin, ssl_context=self._ssl_context, keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS
        )

    def _discard(self, connection: httpcore.AsyncHTTPConnection) -> None:
        # Closing a socket needs no waiting; do it in the background so a cancelled request
        # (a timeout) cannot be interrupted halfway through its own clean-up.
        task = asyncio.get_running_loop().create_task(connection.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def send(self) -> int:
        async with self._slots:
            connection = self._take()
            self._busy.add(connection)
            try:
                response = await connection.request(self._method, self._url, headers=self._headers)
            except BaseException:
                self._discard(connection)
                raise
            finally:
                self._busy.discard(connection)
            if connection.is_available():
                self._idle.append(connection)
            else:
                self._discard(connection)
            return response.status

    async def aclose(self) -> None:
        connections = self._idle + list(self._busy)
        self._idle, self._busy = [], set()
        await asyncio.gather(*(c.aclose() for c in connections), *self._closing, return_exceptions=True)


class SyntheticProbeSource:
    """A ``MetricSource`` that measures by sending its own open-loop traffic to one URL.

    Safe to call ``measure`` repeatedly and from any thread; windows asked for from several threads
    run one after another. ``close`` (or leaving a ``with`` block) stops the loop thread and closes
    every connection; a window running at that moment ends with ``ProbeClosed``.
    """

    def __init__(
        self,
        spec: SyntheticProbe,
        clock: Clock,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.spec = spec
        self.clock = clock
        self.url = str(spec.url)
        self.name = f"synthetic_probe {self.url}"
        self.last_window: WindowStats | None = None
        self.max_connections = max_connections
        self._error_statuses = parse_error_statuses(spec.error_statuses)
        self._ssl_context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        self._sender: RequestSender | None = None
        self._window_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        self._running: concurrent.futures.Future | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"probe {self.url}", daemon=True)
        self._thread.start()

    # -- MetricSource -------------------------------------------------------------------------

    def wall_seconds(self, plan_seconds: float) -> float:
        """Real seconds a window of ``plan_seconds`` lasts, the rehearsal floor included."""
        return window_wall_seconds(self.spec, self.clock, plan_seconds)

    def measure(self, plan_seconds: float) -> Snapshot:
        with self._window_lock:
            wall = window_wall_seconds(self.spec, self.clock, plan_seconds)
            with measurement_window(self.clock, plan_seconds, wall) as span:
                with self._state_lock:
                    if self._closed:
                        raise ProbeClosed(f"{self.name} is closed")
                    self._running = asyncio.run_coroutine_threadsafe(self._window(wall), self._loop)
                try:
                    latencies, errors, stats = self._running.result()
                except concurrent.futures.CancelledError:
                    raise ProbeClosed(f"{self.name} was closed during a window") from None
                finally:
                    with self._state_lock:
                        self._running = None
            self.last_window = stats
            started_at, ended_at = span.started_at, span.ended_at or self.clock.now()

        ordered = sorted(latencies)
        return Snapshot(
            requests=len(latencies),
            errors=errors,
            latency_ms=LatencyPercentiles(
                p50=nearest_rank(ordered, 50), p95=nearest_rank(ordered, 95), p99=nearest_rank(ordered, 99)
            ),
            latency_samples_ms=latencies,
            started_at=started_at,
            ended_at=ended_at,
            source=self.name,
        )

    def close(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            if self._running is not None:
                self._running.cancel()
        with self._window_lock:  # the interrupted window, if any, has returned
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
                if not self._thread.is_alive():
                    self._loop.close()

    def __enter__(self) -> "SyntheticProbeSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- inside the loop thread -------------------------------------------------------------

    def _open_sender(self) -> RequestSender:
        return ConnectionStack(
            self.url, self.spec.method, self.spec.headers, self._ssl_context, self.max_connections
        )

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not current), return_exceptions=True)

    async def _window(self, wall_seconds: float) -> tuple[list[float], int, WindowStats]:
        if self._sender is None:
            self._sender = self._open_sender()
        loop = asyncio.get_running_loop()
        rate = self.spec.rate_per_second
        n = math.ceil(wall_seconds * rate - 1e-9) if wall_seconds > 0 else 0
        latencies = [0.0] * n
        failed = [True] * n
        send_lag = [0.0] * n
        tasks: list[asyncio.Task] = []

        t0 = loop.time()
        i = 0
        while i < n:
            now = loop.time()
            while i < n and t0 + i / rate <= now:
                tasks.append(loop.create_task(self._request(i, t0 + i / rate, latencies, failed, send_lag)))
                i += 1
            if i < n:
                # Sleep until the next one is due; a late wake-up sends the overdue ones at once.
                await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))

        if tasks:
            # Every request bounds itself by spec.timeout; the margin only guards against a bug.
            _, pending = await asyncio.wait(tasks, timeout=self.spec.timeout + 5.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

        lags = sorted(send_lag)
        if n > 1:
            span = (n - 1) / rate + send_lag[-1] - send_lag[0]
            achieved = (n - 1) / span if span > 0 else float("inf")
        else:
            achieved = n / wall_seconds if wall_seconds > 0 else 0.0
        stats = WindowStats(
            requests=n,
            wall_seconds=wall_seconds,
            achieved_rate_per_second=achieved,
            max_send_lag_ms=lags[-1] * 1000 if lags else 0.0,
            p99_send_lag_ms=nearest_rank(lags, 99) * 1000,
        )
        if lags and lags[-1] > 0.05 + 5 / rate:
            log.warning(
                "%s fell behind its schedule by up to %.0f ms at %g req/s (this machine is busy); "
                "latencies are counted from each actual send and exclude that delay",
                self.name, lags[-1] * 1000, rate,
            )
        return latencies, sum(failed), stats

    async def _request(
        self, i: int, intended: float, latencies: list[float], failed: list[bool], send_lag: list[float]
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        send_lag[i] = started - intended
        try:
            # One deadline for the whole exchange (httpcore's own timeouts are per phase).
            async with asyncio.timeout(self.spec.timeout):
                status = await self._sender.send()
            failed[i] = status in self._error_statuses
        except Exception:  # refused, reset, timed out, malformed: the service failed this request
            failed[i] = True
        finally:
            latencies[i] = round((loop.time() - started) * 1000, 3)
