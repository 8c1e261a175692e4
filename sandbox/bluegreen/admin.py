"""The demo's control plane and its HTTP face, served on the router's port under ``/_admin``.

``ControlPlane`` is the one place that changes weights and faults and reads stats; the admin
HTTP API and the Python API (``BlueGreenDemo.set_weights`` and friends) both call it, so they
validate and answer identically. It runs on the demo's event loop thread only.

    GET    /_admin                 -> {"router_url", "admin_url", "version_urls", "weights", "endpoints"}
    GET    /_admin/weights         -> {"blue": 100, "green": 0}
    PUT    /_admin/weights         {"blue": 90, "green": 10} -> 200 {"blue": 90, "green": 10}
    POST   /_admin/weights         (same as PUT)
                                   invalid -> 400 {"error": "invalid weights: ...", "problems": [...]}
    GET    /_admin/faults          -> {"faults": [{"id", "version", "error_rate", "latency_ms",
                                                   "starts_at", "ends_at", "state"}, ...]}
    POST   /_admin/faults          {"version": "green", "error_rate": 0.2, "latency_ms": 50,
                                    "start_after_seconds": 0 | "start_at": ISO-8601,
                                    "duration_seconds": null} -> 201 {fault}
    DELETE /_admin/faults          -> {"cleared": 2}
    DELETE /_admin/faults/{id}     -> {"deleted": "fault-3"} | 404
    GET    /_admin/stats           -> {"window_seconds", "versions": {"blue": {...}, "green": {...}},
                                       "router": {...}}  (see stats.py)
    POST   /_admin/stats/reset     -> the (now empty) stats
    GET    /_admin/requests        -> {"requests": [...]}: the state-changing admin requests, stamped
                                      when received (``admin_log.py``)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from .admin_log import AdminLog
from .errors import InvalidRequest
from .faults import FaultBook, parse_fault
from .http11 import HttpRequest, HttpResponse, json_response
from .router import ADMIN_PREFIX, WeightedRouter, parse_weights
from .stats import RouterStats, TrafficStats

ENDPOINTS = [
    "GET /_admin",
    "GET /_admin/weights",
    "PUT /_admin/weights",
    "POST /_admin/weights",
    "GET /_admin/faults",
    "POST /_admin/faults",
    "DELETE /_admin/faults",
    "DELETE /_admin/faults/{id}",
    "GET /_admin/stats",
    "POST /_admin/stats/reset",
    "GET /_admin/metrics",
    "GET /_admin/requests",
]


class ControlPlane:
    """Weights, faults and stats of one running demo."""

    def __init__(
        self,
        *,
        router: WeightedRouter,
        faults: FaultBook,
        version_stats: Mapping[str, TrafficStats],
        router_stats: RouterStats,
        urls: Callable[[], dict[str, object]],
        window_seconds: float,
    ) -> None:
        self._router = router
        self._faults = faults
        self._version_stats = dict(version_stats)
        self._router_stats = router_stats
        self._urls = urls
        self._window_seconds = window_seconds

    def weights(self) -> dict[str, int]:
        return self._router.weights.as_json()

    def set_weights(self, payload: object) -> dict[str, int]:
        """Validate then swap in one assignment; the same weights again changes nothing."""
        return self._router.set_weights(parse_weights(payload)).as_json()

    def add_fault(self, payload: object) -> dict[str, object]:
        return self._faults.describe(self._faults.add(parse_fault(payload)))

    def faults(self) -> list[dict[str, object]]:
        return self._faults.as_json()

    def clear_faults(self) -> int:
        return self._faults.clear()

    def remove_fault(self, fault_id: str) -> bool:
        return self._faults.remove(fault_id)

    def stats(self) -> dict[str, object]:
        return {
            "window_seconds": self._window_seconds,
            "versions": {name: stats.as_json() for name, stats in self._version_stats.items()},
            "router": self._router_stats.as_json(),
        }

    def reset_stats(self) -> dict[str, object]:
        for stats in self._version_stats.values():
            stats.reset()
        self._router_stats.reset()
        return self.stats()

    def metrics(self) -> tuple[bytes, str]:
        """Prometheus' text format of the router's requests and latencies (``metrics.py``)."""
        export = self._router.metrics
        if export is None:
            return b"", "text/plain; version=0.0.4; charset=utf-8"
        return export.exposition()

    def index(self) -> dict[str, object]:
        return {**self._urls(), "weights": self.weights(), "endpoints": ENDPOINTS}


class AdminApi:
    """Maps ``/_admin/...`` requests onto the control plane."""

    def __init__(self, control: ControlPlane) -> None:
        self._control = control
        self.log = AdminLog()

    async def handle(self, request: HttpRequest) -> HttpResponse:
        received = AdminLog.now()
        try:
            response = self._dispatch(request)
        except InvalidRequest as exc:
            response = json_response(400, exc.as_json())
        self.log.record(request, response.status, received)
        return response

    def _dispatch(self, request: HttpRequest) -> HttpResponse:
        control = self._control
        method = request.method
        route = request.path[len(ADMIN_PREFIX) :].rstrip("/") or "/"
        if route == "/":
            if method in ("GET", "HEAD"):
                return json_response(200, control.index())
            return _not_allowed("GET, HEAD")
        if route == "/weights":
            if method in ("GET", "HEAD"):
                return json_response(200, control.weights())
            if method in ("PUT", "POST"):
                return json_response(200, control.set_weights(_body(request)))
            return _not_allowed("GET, HEAD, PUT, POST")
        if route == "/faults":
            if method in ("GET", "HEAD"):
                return json_response(200, {"faults": control.faults()})
            if method == "POST":
                return json_response(201, control.add_fault(_body(request)))
            if method == "DELETE":
                return json_response(200, {"cleared": control.clear_faults()})
            return _not_allowed("GET, HEAD, POST, DELETE")
        if route.startswith("/faults/"):
            fault_id = route[len("/faults/") :]
            if method != "DELETE":
                return _not_allowed("DELETE")
            if control.remove_fault(fault_id):
                return json_response(200, {"deleted": fault_id})
            return json_response(404, {"error": f"no fault with id {fault_id!r}"})
        if route == "/stats":
            if method in ("GET", "HEAD"):
                return json_response(200, control.stats())
            return _not_allowed("GET, HEAD")
        if route == "/metrics":
            if method in ("GET", "HEAD"):
                body, content_type = control.metrics()
                return HttpResponse(200, body, [("content-type", content_type)])
            return _not_allowed("GET, HEAD")
        if route == "/requests":
            if method in ("GET", "HEAD"):
                return json_response(200, {"requests": self.log.as_json()})
            return _not_allowed("GET, HEAD")
        if route == "/stats/reset":
            if method == "POST":
                return json_response(200, control.reset_stats())
            return _not_allowed("POST")
        return json_response(404, {"error": f"no admin endpoint {request.path}", "endpoints": ENDPOINTS})


def _body(request: HttpRequest) -> object:
    if not request.body.strip():
        raise InvalidRequest(["the request has no body; send a JSON object"])
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest([f"the body is not valid JSON: {exc}"]) from None


def _not_allowed(allow: str) -> HttpResponse:
    return json_response(405, {"error": f"method not allowed; allowed: {allow}"}, [("allow", allow)])
