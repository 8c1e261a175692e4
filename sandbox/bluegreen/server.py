"""Running the demo: three servers on one event loop in one background thread.

Blue, green and the router (with the admin API) share one asyncio loop in a daemon thread, so
the demo can be embedded in a test or in the product next to other work, starts in a few
milliseconds and stops in well under a second. One loop is also why nothing in the demo needs
a lock: the Python API hands each call to the loop thread and waits for its answer.

``serve()`` is the long-running form for a terminal or a CLI command: it prints one JSON line
with the URLs, then runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TextIO, TypeVar

from .admin import AdminApi, ControlPlane
from .errors import DemoNotRunning, DemoStartFailed
from .orders import GreenStore, stores_for
from .faults import VERSIONS, FaultBook
from .http11 import HttpServer
from .router import ADMIN_PREFIX, WeightedRouter, Weights, parse_weights
from .metrics import DemoMetrics
from .stats import RouterStats, TrafficStats
from .upstream import UpstreamPool
from .versions import VersionBehaviour, VersionService

log = logging.getLogger("odin_drills.sandbox.bluegreen")

DEFAULT_PORT = 8710
_STOP_GRACE_SECONDS = 0.4
_CALL_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


class BlueGreenDemo:
    """Blue and green versions of the demo service behind a weighted router, on 127.0.0.1.

    Use as a context manager (or ``start()``/``stop()``)::

        with BlueGreenDemo(seed=7, port=0) as demo:
            demo.set_weights(blue=90, green=10)
            httpx.get(demo.router_url + "/api/orders/1")

    ``port`` is the router's (0: any free port; the README demo uses 8710). ``error_rate``,
    ``latency_median_ms`` and ``latency_sigma`` set both versions' natural behaviour; pass
    ``blue=``/``green=`` a ``VersionBehaviour`` to give one version its own. ``weights`` are the
    initial split (default all blue). ``version_ports`` fixes the versions' ports (default any).
    """

    def __init__(
        self,
        seed: int = 0,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        error_rate: float = 0.02,
        latency_median_ms: float = 8.0,
        latency_sigma: float = 0.35,
        blue: VersionBehaviour | None = None,
        green: VersionBehaviour | None = None,
        weights: Mapping[str, int] | None = None,
        version_ports: Mapping[str, int] | None = None,
        stats_window_seconds: float = 60.0,
        upstream_timeout_seconds: float = 30.0,
        green_store: GreenStore = "shared",
    ) -> None:
        natural = VersionBehaviour(error_rate, latency_median_ms, latency_sigma)
        self.seed = seed
        self.host = host
        self.behaviours: dict[str, VersionBehaviour] = {"blue": blue or natural, "green": green or natural}
        self.initial_weights: Weights = parse_weights(dict(weights) if weights else {"blue": 100, "green": 0})
        unknown = set(version_ports or {}) - set(VERSIONS)
        if unknown:
            raise ValueError(f"version_ports names unknown versions {sorted(unknown)}; known: {list(VERSIONS)}")
        self._requested_ports = {"router": port, **{v: (version_ports or {}).get(v, 0) for v in VERSIONS}}
        if stats_window_seconds <= 0:
            raise ValueError(f"stats_window_seconds must be > 0, got {stats_window_seconds!r}")
        self.stats_window_seconds = stats_window_seconds
        self.upstream_timeout_seconds = upstream_timeout_seconds
        if green_store not in ("shared", "empty", "corrupt"):
            raise ValueError(f"green_store must be shared, empty or corrupt, got {green_store!r}")
        self.green_store: GreenStore = green_store  # orders.py: the database green reads

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._servers: dict[str, HttpServer] = {}
        self._control: ControlPlane | None = None
        self._running = False

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> BlueGreenDemo:
        """Start all three servers; returns when they accept connections."""
        if self._thread is not None:
            raise RuntimeError("this BlueGreenDemo was already started; create a new one")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run_loop, args=(ready,), name="odin-bluegreen", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=_CALL_TIMEOUT_SECONDS)
        except BaseException:
            self.stop()  # a start that timed out may still have servers up
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Stop every server and join the loop thread. Safe to call twice."""
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        self._running = False
        if thread is None:
            return
        if loop is not None and stop_requested is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop_requested.set)
            except RuntimeError:  # the loop closed between the check and the call
                pass
        if thread is not threading.current_thread():
            thread.join(timeout=_CALL_TIMEOUT_SECONDS)
            if thread.is_alive():
                log.warning("blue/green demo thread did not stop within %s s", _CALL_TIMEOUT_SECONDS)

    def __enter__(self) -> BlueGreenDemo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running

    # addresses ---------------------------------------------------------------------------------
    @property
    def router_url(self) -> str:
        return self._server("router").url

    @property
    def port(self) -> int:
        """The router's port (the real one when started with ``port=0``)."""
        return self._server("router").port

    @property
    def admin_url(self) -> str:
        return self.router_url + ADMIN_PREFIX

    @property
    def version_urls(self) -> dict[str, str]:
        return {name: self._server(name).url for name in VERSIONS}

    def urls(self) -> dict[str, object]:
        """``{"router_url", "admin_url", "version_urls"}``, as ``serve()`` prints them."""
        if not self._running:
            raise DemoNotRunning()
        return self._urls_of_started()

    def _urls_of_started(self) -> dict[str, object]:
        router = self._servers["router"]
        return {
            "router_url": router.url,
            "admin_url": router.url + ADMIN_PREFIX,
            "version_urls": {name: self._servers[name].url for name in VERSIONS},
        }

    # control: the same operations as the admin API ------------------------------------------
    def weights(self) -> dict[str, int]:
        return self._call(lambda control: control.weights())

    def set_weights(self, weights: Mapping[str, int] | None = None, /, **by_version: int) -> dict[str, int]:
        """``set_weights(blue=90, green=10)`` or ``set_weights({"blue": 90, "green": 10})``.

        Raises ``InvalidWeights`` (a ``ValueError``) and leaves the weights as they were.
        """
        payload = {**(weights or {}), **by_version}
        return self._call(lambda control: control.set_weights(payload))

    def add_fault(
        self,
        version: str,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        start_after_seconds: float | None = None,
        start_at: datetime | str | None = None,
        duration_seconds: float | None = None,
    ) -> dict[str, object]:
        """Inject a fault into one version; returns it as ``GET /_admin/faults`` lists it."""
        payload: dict[str, Any] = {"version": version, "error_rate": error_rate, "latency_ms": latency_ms}
        optional = {"start_after_seconds": start_after_seconds, "start_at": start_at, "duration_seconds": duration_seconds}
        payload.update({key: value for key, value in optional.items() if value is not None})
        return self._call(lambda control: control.add_fault(payload))

    def faults(self) -> list[dict[str, object]]:
        return self._call(lambda control: control.faults())

    def clear_faults(self) -> int:
        """Remove every fault; returns how many there were."""
        return self._call(lambda control: control.clear_faults())

    def remove_fault(self, fault_id: str) -> bool:
        return self._call(lambda control: control.remove_fault(fault_id))

    def stats(self) -> dict[str, object]:
        return self._call(lambda control: control.stats())

    def reset_stats(self) -> dict[str, object]:
        return self._call(lambda control: control.reset_stats())

    def __repr__(self) -> str:
        if not self._running:
            return f"<BlueGreenDemo seed={self.seed} stopped>"
        return f"<BlueGreenDemo seed={self.seed} router={self.router_url} weights={self.weights()}>"

    # internals ---------------------------------------------------------------------------------
    def _server(self, name: str) -> HttpServer:
        if not self._running:
            raise DemoNotRunning()
        return self._servers[name]

    def _call(self, operation: Callable[[ControlPlane], T]) -> T:
        """Run ``operation`` on the loop thread, where all demo state lives, and return its result."""
        loop, control = self._loop, self._control
        if not self._running or loop is None or control is None:
            raise DemoNotRunning()
        if threading.current_thread() is self._thread:
            return operation(control)
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(operation(control))
            except BaseException as exc:
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(timeout=_CALL_TIMEOUT_SECONDS)

    def _run_loop(self, ready: concurrent.futures.Future[None]) -> None:
        # Ctrl-C and SIGTERM belong to the main thread: if the kernel picked this thread instead,
        # a main thread blocked in a wait would not notice them until its wait timed out.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve_until_stopped(ready))
        except BaseException as exc:  # never leave start() waiting
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.exception("blue/green demo loop failed")
        finally:
            try:
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve_until_stopped(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        clock = loop.time
        self._stop_requested = asyncio.Event()
        faults = FaultBook(clock)
        stores = stores_for(self.green_store)
        version_stats = {name: TrafficStats(clock, self.stats_window_seconds) for name in VERSIONS}
        router_stats = RouterStats(clock, VERSIONS, self.stats_window_seconds)
        pools: dict[str, UpstreamPool] = {}
        started: list[HttpServer] = []
        try:
            for name in VERSIONS:
                service = VersionService(
                    name,
                    self.behaviours[name],
                    seed=self.seed,
                    faults=faults,
                    stats=version_stats[name],
                    clock=clock,
                    store=stores[name],
                )
                server = HttpServer(service.handle, name=name, host=self.host, port=self._requested_ports[name])
                await self._listen(server)
                started.append(server)
                pools[name] = UpstreamPool(self.host, server.port, timeout=self.upstream_timeout_seconds)
            router = WeightedRouter(pools, self.initial_weights, seed=self.seed, stats=router_stats, clock=clock)
            router.metrics = DemoMetrics()
            self._control = ControlPlane(
                router=router,
                faults=faults,
                version_stats=version_stats,
                router_stats=router_stats,
                urls=self._urls_of_started,
                window_seconds=self.stats_window_seconds,
            )
            router.mount_admin(AdminApi(self._control).handle)
            router_server = HttpServer(router.handle, name="router", host=self.host, port=self._requested_ports["router"])
            await self._listen(router_server)
            started.append(router_server)
            self._servers = {server.name: server for server in started}
        except BaseException as exc:
            await _stop_all(started, pools)
            ready.set_exception(exc)
            return
        ready.set_result(None)
        await self._stop_requested.wait()
        await _stop_all(started, pools)

    async def _listen(self, server: HttpServer) -> None:
        try:
            await server.start()
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise DemoStartFailed(f"cannot listen on {self.host}:{server.port} for {server.name}: {reason}") from exc


async def _stop_all(servers: list[HttpServer], pools: Mapping[str, UpstreamPool]) -> None:
    """Router first, so requests it is proxying can still reach the versions; then the versions."""
    for server in servers:
        if server.name == "router":
            await server.stop(_STOP_GRACE_SECONDS)
    for pool in pools.values():
        pool.close()
    versions = [server for server in servers if server.name != "router"]
    await asyncio.gather(*(server.stop(_STOP_GRACE_SECONDS / 2) for server in versions))


def serve(
    port: int = DEFAULT_PORT,
    seed: int = 0,
    *,
    stop_event: threading.Event | None = None,
    out: TextIO | None = None,
    **options: Any,
) -> None:
    """Run the demo until SIGINT/SIGTERM (or ``stop_event``), printing its URLs as one JSON line.

    ``options`` are ``BlueGreenDemo``'s keyword arguments. Signal handlers are installed only
    when called from the main thread; elsewhere, pass ``stop_event``.
    """
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with BlueGreenDemo(seed=seed, port=port, **options) as demo:
            line = {
                "event": "bluegreen.ready",
                **demo.urls(),
                "weights": demo.weights(),
                "seed": seed,
                "pid": os.getpid(),
            }
            stream = out or sys.stdout
            stream.write(json.dumps(line) + "\n")
            stream.flush()
            while not stop.wait(0.25):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
