"""The Front Door edge: a real HTTP reverse proxy that routes like Azure Front Door does.

For each request it takes the route's origin group as *deployed* (an origin PATCH counts once
its operation has finished), keeps the enabled origins that its own health probes call healthy,
picks the lowest priority among them and, within that priority, an origin at random by weight
(seeded). If no enabled origin is healthy it uses all enabled ones, as Front Door does. The
answer passes through with ``x-odin-origin`` (which origin) added; the demo app's own
``x-odin-region`` says which region served it. Connection failures answer 503, timeouts 504.

Health is Front Door's rule: an origin is healthy when at least ``successfulSamplesRequired``
of the last ``sampleSize`` probes (HTTP 200 to ``probePath``) succeeded. Probes run on a
thread every ``interval`` seconds (0.5 s by default, so an outage moves traffic within about a
second rather than Azure's tens of seconds).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import random
import threading
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
from starlette.responses import JSONResponse, Response

from ..bluegreen.upstream import UpstreamError, UpstreamPool
from .world import EdgeTarget, EdgeView, World

log = logging.getLogger(__name__)

ORIGIN_HEADER = "x-odin-origin"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "content-length", "host", "content-encoding"}
_EDGE_SETS = frozenset({"x-forwarded-host", "x-azure-ref"})
"""Request headers the edge sets itself: a client's own are replaced, not sent twice."""
_REQUEST_DROP = _HOP_BY_HOP | _EDGE_SETS
_RESPONSE_DROP = _HOP_BY_HOP - {"content-encoding"}
"""The origin's body passes through as it was encoded (the pool does not decompress), so its
``content-encoding`` stays; the body's length is the edge's own (chunked bodies arrive whole)."""


@functools.lru_cache(maxsize=256)
def _loopback(url: str) -> bool:
    """The sandbox only ever proxies to this machine."""
    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HealthProbes:
    """Front Door's health probes, on a background thread."""

    def __init__(self, world: World, interval: float = 0.5, timeout: float = 1.0) -> None:
        self.world = world
        self.interval = interval
        self.timeout = timeout
        self._lock = threading.Lock()
        self._samples: dict[str, deque[bool]] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sandbox-edge-probes", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-probe")
        self._client = httpx.Client(timeout=timeout)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def reset(self) -> None:
        with self._lock:
            self._samples.clear()
            self._last.clear()

    def is_healthy(self, origin: str, view: EdgeView) -> bool:
        with self._lock:
            samples = self._samples.get(origin)
            if samples is None:
                return True  # a new origin is healthy until probes say otherwise
            window = list(samples)[-view.sample_size:]
            needed = min(view.successful_samples_required, view.sample_size)
            return sum(window) + (view.sample_size - len(window)) >= needed

    def health(self) -> dict[str, dict[str, Any]]:
        """Per origin: healthy, the recent samples, the last probe's outcome."""
        view = self.world.edge_view()
        with self._lock:
            samples = {k: list(v) for k, v in self._samples.items()}
            last = dict(self._last)
        return {t.name: {"region": t.region, "enabled": t.enabled,
                         "healthy": self.is_healthy(t.name, view),
                         "samples": samples.get(t.name, []), "last_probe": last.get(t.name)}
                for t in view.targets}

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except Exception:  # noqa: BLE001 - a probe round must never kill the prober
                log.exception("edge health probe round failed")
            self._stop.wait(self.interval)

    def probe_once(self) -> None:
        view = self.world.edge_view()
        targets = [t for t in view.targets if t.enabled]
        results = list(self._pool.map(lambda t: (t, self._probe(t, view)), targets))
        with self._lock:
            for target, (ok, detail) in results:
                samples = self._samples.setdefault(target.name, deque(maxlen=64))
                samples.append(ok)
                self._last[target.name] = detail

    def _probe(self, target: EdgeTarget, view: EdgeView) -> tuple[bool, dict[str, Any]]:
        if not _loopback(target.url):
            return False, {"ok": False, "error": "origin host is not on this machine"}
        try:
            response = self._client.request(view.probe_method, target.url + view.probe_path)
        except httpx.HTTPError as exc:
            return False, {"ok": False, "error": type(exc).__name__}
        return response.status_code == 200, {"ok": response.status_code == 200,
                                             "status": response.status_code}


class EdgeProxy:
    """The ASGI app behind ``frontdoor_url``.

    Its proxy core is a keep-alive connection pool per origin (``bluegreen.upstream.UpstreamPool``,
    one write and one parse per request), called from a bare ASGI callable. It used to be Starlette
    plus one shared ``httpx.AsyncClient``, which queued below 250 req/s on 2 cores: the client's
    cost per request grows with the connections it holds (HTTP-NOTES), so a burst piled up
    seconds of latency with no error at all, and drill RTOs measured through it were inflated
    (issue 14; bench/results/edge.md has the numbers, before and after).
    """

    def __init__(self, world: World, probes: HealthProbes, seed: object = 0,
                 origin_timeout: float = 30.0) -> None:
        self.world = world
        self.probes = probes
        self._rng = random.Random(f"{seed}/edge")
        self._timeout = origin_timeout
        self._pools: dict[str, UpstreamPool] = {}
        self.app = self  # the ASGI app (uvicorn takes an object with an async ``__call__`` as ASGI 3)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            response = await self.forward(scope, receive)
            await response(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for pool in self._pools.values():
                    pool.close()
                self._pools.clear()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def choose(self, view: EdgeView) -> EdgeTarget | None:
        """Front Door's pick: healthy+enabled → lowest priority → weighted random."""
        enabled = [t for t in view.targets if t.enabled]
        if not enabled:
            return None
        pool = [t for t in enabled if self.probes.is_healthy(t.name, view)] or enabled
        best = min(t.priority for t in pool)
        tier = [t for t in pool if t.priority == best]
        return self._rng.choices(tier, weights=[max(t.weight, 1) for t in tier])[0]

    def _pool(self, url: str) -> UpstreamPool:
        """The origin's pool, made on first use inside the edge's event loop."""
        pool = self._pools.get(url)
        if pool is None:
            parsed = httpx.URL(url)
            pool = self._pools[url] = UpstreamPool(parsed.host, parsed.port or 80, timeout=self._timeout)
        return pool

    async def forward(self, scope: dict[str, Any], receive: Any) -> Response | _Passthrough:
        ref = uuid.uuid4().hex
        view = self.world.edge_view()
        target = self.choose(view)
        if target is None:
            return JSONResponse({"error": "NoEnabledOrigin",
                                 "message": "every origin of the route's origin group is disabled"},
                                status_code=503, headers={"x-azure-ref": ref})
        headers = {ORIGIN_HEADER: target.name, "x-azure-ref": ref}
        if not _loopback(target.url):
            return JSONResponse({"error": "OriginNotAllowed",
                                 "message": "the sandbox edge only proxies to 127.0.0.0/8"},
                                status_code=502, headers=headers)
        query = scope.get("query_string", b"").decode("latin-1")
        raw_path = scope.get("raw_path")  # as the client sent it (uvicorn gives it without the query)
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/:@!$&'()*+,;=-._~%")
        forwarded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                     if k.decode("latin-1").lower() not in _REQUEST_DROP]
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"), "")
        forwarded += [("x-forwarded-host", host), ("x-azure-ref", ref)]
        try:
            upstream = await self._pool(target.url).request(
                scope["method"], path + (f"?{query}" if query else ""), forwarded, await _body(receive))
        except UpstreamError as exc:
            if exc.status == 504:
                return JSONResponse({"error": "OriginTimeout", "origin": target.name},
                                    status_code=504, headers=headers)
            return JSONResponse({"error": "OriginConnectionError", "origin": target.name,
                                 "detail": str(exc)}, status_code=503, headers=headers)
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in upstream.headers
               if k not in _RESPONSE_DROP and k not in headers]
        raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(upstream.body)).encode("latin-1")))
        return _Passthrough(upstream.status, raw, upstream.body)


class _Passthrough:
    """The origin's answer sent on as is (a Starlette ``Response`` would rebuild every header)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def _body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
