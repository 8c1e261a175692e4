"""The demo service itself, as it runs in one version (blue or green).

A migration gate can only be shown working against a service that behaves like a real one:
some latency with a tail, and a few errors even when nothing is wrong. So each version has a
*natural behaviour* - a background error rate and lognormal latency - drawn from its own seeded
``random.Random``, plus whatever faults the ``FaultBook`` holds for it. The natural behaviour
applies uniformly to every endpoint, ``/health`` included (a smoke check should retry, as it
would against the real legacy service); set ``error_rate=0`` for a perfectly healthy version.

Each request draws, in this order: natural error (always), fault error (only while a fault with
an error rate is active), latency (only when the median is > 0). With no fault, the k-th request
a version serves always gets the k-th draws, whatever the concurrency, so a seeded run counts
the same errors every time.

Endpoints (every response carries ``x-odin-version``; errors also ``x-odin-error``):
    GET  /health            -> 200 {"status": "ok", "version": "blue"}
    GET  /api/orders/{id}   -> 200 {"id": 42, "status": "shipped", "version": "blue"} (ids below 1001: a fixed
                               catalogue); from 1001 the stored order, 200 {"id", "status": "created",
                               "version", "order"} or 404 (``orders.py``: what a cut-over can lose)
    POST /api/orders        -> 201 {"id": 1001, "status": "created", "version": "blue", "order": {...}}
    ANY  /api/echo          -> 200 what arrived (method, path, query, headers, body): proves the
                               router forwards requests faithfully
    (natural or injected)   -> 500 {"error": "background error"|"injected fault", "version": ..., "kind": ...}
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .faults import FaultBook
from .orders import FIRST_ORDER_ID, OrderStore
from .http11 import HttpRequest, HttpResponse, json_response
from .stats import TrafficStats


@dataclass(frozen=True, slots=True)
class VersionBehaviour:
    """How a version behaves when nothing has been injected.

    Defaults model a realistic flaky legacy service: 2 % background 500s and a latency of about
    8 ms median with a moderate tail (lognormal sigma 0.35: p95 ≈ 14 ms, p99 ≈ 18 ms).
    """

    error_rate: float = 0.02
    latency_median_ms: float = 8.0
    latency_sigma: float = 0.35

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, got {self.error_rate!r}")
        if self.latency_median_ms < 0:
            raise ValueError(f"latency_median_ms must be >= 0, got {self.latency_median_ms!r}")
        if self.latency_sigma < 0:
            raise ValueError(f"latency_sigma must be >= 0, got {self.latency_sigma!r}")


def version_seed(seed: int, name: str) -> str:
    """A per-component seed: string seeds are hashed by ``random`` the same way on every run."""
    return f"odin-bluegreen:{seed}:{name}"


class VersionService:
    """The request handler of one version's server."""

    def __init__(
        self,
        name: str,
        behaviour: VersionBehaviour,
        *,
        seed: int,
        faults: FaultBook,
        stats: TrafficStats,
        order_ids: Iterator[int] | None = None,
        clock: Callable[[], float],
        store: Any = None,
    ) -> None:
        self.name = name
        self.behaviour = behaviour
        self.rng = random.Random(version_seed(seed, name))
        self._faults = faults
        self._stats = stats
        self._orders = store if store is not None else OrderStore(order_ids)
        self._clock = clock
        self._log_median = math.log(behaviour.latency_median_ms / 1000.0) if behaviour.latency_median_ms > 0 else None
        self._version_header = ("x-odin-version", name)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        started = self._clock()
        effect = self._faults.effect(self.name, started)
        rng = self.rng
        natural_error = rng.random() < self.behaviour.error_rate
        fault_error = effect.error_rate > 0.0 and rng.random() < effect.error_rate
        delay = effect.latency_ms / 1000.0
        if self._log_median is not None:
            delay += rng.lognormvariate(self._log_median, self.behaviour.latency_sigma)
        if delay > 0.0:
            await asyncio.sleep(delay)
        if fault_error:
            response = self._error("injected fault", "fault")
        elif natural_error:
            response = self._error("background error", "natural")
        else:
            response = self._route(request)
        self._stats.record(response.status, (self._clock() - started) * 1000.0)
        return response

    def _error(self, message: str, kind: str) -> HttpResponse:
        return json_response(
            500,
            {"error": message, "version": self.name, "kind": kind},
            [self._version_header, ("x-odin-error", kind)],
        )

    def _reply(self, status: int, payload: object, *extra: tuple[str, str]) -> HttpResponse:
        return json_response(status, payload, [self._version_header, *extra])

    def _route(self, request: HttpRequest) -> HttpResponse:
        method, path = request.method, request.path
        readable = method in ("GET", "HEAD")
        if path == "/health":
            if readable:
                return self._reply(200, {"status": "ok", "version": self.name})
            return self._not_allowed("GET, HEAD")
        if path == "/api/orders":
            if method == "POST":
                return self._create_order(request)
            return self._not_allowed("POST")
        if path.startswith("/api/orders/"):
            order_id = path[len("/api/orders/") :]
            if not order_id or "/" in order_id:
                return self._reply(404, {"error": f"no route for {path}", "version": self.name})
            if readable:
                if order_id.isdigit() and int(order_id) >= FIRST_ORDER_ID:
                    stored = self._orders.get(int(order_id))
                    if stored is None:
                        return self._reply(404, {"error": f"no order {order_id}", "version": self.name})
                    return self._reply(200, {"id": int(order_id), "status": "created", "version": self.name,
                                             "order": stored})
                shown: int | str = int(order_id) if order_id.isdigit() else order_id
                return self._reply(200, {"id": shown, "status": "shipped", "version": self.name})
            return self._not_allowed("GET, HEAD")
        if path == "/api/echo":
            return self._reply(200, self._echo(request))
        return self._reply(404, {"error": f"no route for {path}", "version": self.name})

    def _create_order(self, request: HttpRequest) -> HttpResponse:
        try:
            order = json.loads(request.body) if request.body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._reply(400, {"error": f"body is not valid JSON: {exc}", "version": self.name})
        if not isinstance(order, dict):
            return self._reply(400, {"error": "body must be a JSON object", "version": self.name})
        order_id = self._orders.add(order)
        return self._reply(
            201,
            {"id": order_id, "status": "created", "version": self.name, "order": order},
            ("location", f"/api/orders/{order_id}"),
        )

    def _echo(self, request: HttpRequest) -> dict[str, object]:
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return {
            "version": self.name,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": headers,
            "body": request.body.decode("utf-8", "replace"),
        }

    def _not_allowed(self, allow: str) -> HttpResponse:
        return self._reply(405, {"error": "method not allowed", "version": self.name}, ("allow", allow))
