"""The sandbox's control panel over HTTP (plain, on 127.0.0.1): faults in, ground truth out.

::

    GET    /health            {"status": "ok"}
    GET    /info              the same dict as AzureSandbox.info()
    GET    /faults            active faults, each with injected_at (?include=cleared: history too)
    POST   /faults            inject one fault (JSON body, see faults.py) → 201 the fault; 400 if invalid
    DELETE /faults            clear all active faults → {"cleared": N}
    DELETE /faults/{id}       clear one → 204, 404 if not active
    GET    /operations        every ARM mutation: time, resource_id, operation, result, …
    GET    /writes            every acknowledged write and whether the current primary holds it
    GET    /state             who is primary where, replication backlog, edge health
    POST   /reset             back to the initial world (faults, data, operations cleared; secrets kept)
    GET    /throttle          the ARM write limit's counts: reads, writes, throttled (429s), ignored_retry_after
                              (writes that arrived before a Retry-After had elapsed); 404 without a limit
    GET    /secrets           the Key Vault's secrets: name, versions, enabled, reads (never a value)
    PUT    /secrets/{name}    {"value": "...", "enabled"?, "content_type"?, "tags"?} → 201 a new version
    DELETE /secrets/{name}    → 204, 404 if there is no such secret
    GET    /alerts            Azure Monitor's alerts (the rules evaluated first): id, name, severity, condition
    POST   /alerts            {"name", "severity"?: "Sev0".."Sev4", "target_resource"?, ...} → 201 a fired alert
    POST   /alerts/{id}/resolve   resolve it (or every fired alert of that rule name) → {"resolved": N}
    GET    /service-health    Service Health's events (one per region outage) and the ETAs set per region
    PUT    /service-health/{region}   {"eta_seconds": N | null}: Azure's expected resolution of that region's
                              outage, N seconds after it started (null: no ETA published) → the summary
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .alerts import AlertBook, InvalidAlert, UnknownAlert
from .faults import FaultRegistry, InvalidFault
from .keyvault import InvalidSecret, SecretStore
from .service_health import ServiceHealth


class _HealthRoutes:
    """``/service-health``: what Service Health reports, and the ETA a test publishes (``service_health``)."""

    health: ServiceHealth | None

    async def service_health(self, request: Request) -> Response:
        return JSONResponse(self.health.summary() if self.health else {"eta_seconds": {}, "events": []})

    async def set_eta(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        seconds = body.get("eta_seconds", "missing") if isinstance(body, dict) else "missing"
        if self.health is None or not (seconds is None or isinstance(seconds, (int, float))) \
                or isinstance(seconds, bool):
            return _bad_request('the body must be {"eta_seconds": N} (seconds after the outage started) or '
                                '{"eta_seconds": null} (no ETA)', code="InvalidEta")
        try:
            self.health.set_eta(request.path_params["region"], seconds)
        except ValueError as exc:
            return _bad_request(str(exc), code="InvalidEta")
        return JSONResponse(self.health.summary())


class AdminApi(_HealthRoutes):
    """Starlette routes over the sandbox's in-process API."""

    def __init__(self, *, faults: FaultRegistry, info: Callable[[], dict[str, Any]],
                 operations: Callable[[], list[dict[str, Any]]], writes: Callable[[], list[dict[str, Any]]],
                 state: Callable[[], dict[str, Any]], reset: Callable[[], None],
                 secrets: SecretStore | None = None, alerts: AlertBook | None = None,
                 throttle: Callable[[], dict[str, Any] | None] | None = None,
                 health: ServiceHealth | None = None) -> None:
        self.health = health
        self.faults = faults
        self.secrets = secrets
        self._throttle = throttle
        self.alerts = alerts
        self._info, self._operations, self._writes = info, operations, writes
        self._state, self._reset = state, reset
        self.app = Starlette(routes=[
            Route("/health", lambda r: JSONResponse({"status": "ok"}), methods=["GET"]),
            Route("/info", lambda r: JSONResponse(self._info()), methods=["GET"]),
            Route("/faults", self.list_faults, methods=["GET"]),
            Route("/faults", self.add_fault, methods=["POST"]),
            Route("/faults", self.clear_faults, methods=["DELETE"]),
            Route("/faults/{fault_id}", self.remove_fault, methods=["DELETE"]),
            Route("/operations", lambda r: JSONResponse(self._operations()), methods=["GET"]),
            Route("/writes", lambda r: JSONResponse(self._writes()), methods=["GET"]),
            Route("/state", lambda r: JSONResponse(self._state()), methods=["GET"]),
            Route("/reset", self.reset, methods=["POST"]),
            Route("/secrets", self.list_secrets, methods=["GET"]),
            Route("/throttle", self.throttle_stats, methods=["GET"]),
            Route("/secrets/{name}", self.put_secret, methods=["PUT"]),
            Route("/secrets/{name}", self.delete_secret, methods=["DELETE"]),
            Route("/alerts", self.list_alerts, methods=["GET"]),
            Route("/alerts", self.fire_alert, methods=["POST"]),
            Route("/alerts/{alert}/resolve", self.resolve_alert, methods=["POST"]),
            Route("/service-health", self.service_health, methods=["GET"]),
            Route("/service-health/{region}", self.set_eta, methods=["PUT"]),
        ])

    async def list_faults(self, request: Request) -> Response:
        include = request.query_params.get("include", "") == "cleared"
        return JSONResponse(self.faults.list(include_cleared=include))

    async def add_fault(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _bad_request("the fault must be a JSON object, e.g. "
                                '{"kind": "region_outage", "region": "eastus"}')
        try:
            return JSONResponse(self.faults.add(body), status_code=201)
        except InvalidFault as exc:
            return _bad_request(str(exc))

    async def clear_faults(self, request: Request) -> Response:
        return JSONResponse({"cleared": self.faults.clear()})

    async def remove_fault(self, request: Request) -> Response:
        if self.faults.remove(request.path_params["fault_id"]):
            return Response(status_code=204)
        return JSONResponse({"error": {"code": "NotFound", "message": "no such active fault"}},
                            status_code=404)

    async def reset(self, request: Request) -> Response:
        self._reset()
        return JSONResponse({"reset": True})


    async def throttle_stats(self, request: Request) -> Response:
        stats = self._throttle() if self._throttle is not None else None
        if stats is None:
            return JSONResponse({"error": {"code": "NotFound", "message": "this sandbox has no ARM write limit "
                                           "(start it with arm_write_limit, e.g. --arm-write-limit 50/1)"}},
                                status_code=404)
        return JSONResponse(stats)

    async def list_secrets(self, request: Request) -> Response:
        return JSONResponse(self.secrets.summary() if self.secrets else [])

    async def put_secret(self, request: Request) -> Response:
        if self.secrets is None:
            return JSONResponse({"error": {"code": "NotFound", "message": "this sandbox has no vault"}}, status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or "value" not in body:
            return _bad_request('the secret must be a JSON object with "value", e.g. {"value": "s3cret"}',
                                code="InvalidSecret")
        tags = body.get("tags")
        try:
            made = self.secrets.set(request.path_params["name"], body["value"], enabled=body.get("enabled", True),
                                    content_type=body.get("content_type"),
                                    tags=tags if isinstance(tags, dict) else None)
        except InvalidSecret as exc:
            return _bad_request(str(exc), code="InvalidSecret")
        return JSONResponse(made, status_code=201)

    async def delete_secret(self, request: Request) -> Response:
        if self.secrets is not None and self.secrets.delete(request.path_params["name"]):
            return Response(status_code=204)
        return JSONResponse({"error": {"code": "NotFound", "message": "no such secret"}}, status_code=404)


    async def list_alerts(self, request: Request) -> Response:
        return JSONResponse(self.alerts.summary() if self.alerts else [])

    async def fire_alert(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        fields = {"severity", "target_resource", "target_resource_group", "target_resource_type", "monitor_service",
                  "signal_type", "description"}
        if self.alerts is None or not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or set(body) - fields - {"name"}:
            return _bad_request('the alert must be a JSON object like {"name": "HighErrorRate", "severity": "Sev1"} '
                                f"(optional: {', '.join(sorted(fields - {'severity'}))})", code="InvalidAlert")
        try:
            fired = self.alerts.fire(body.pop("name"), **{k: str(v) for k, v in body.items()})
        except InvalidAlert as exc:
            return _bad_request(str(exc), code="InvalidAlert")
        return JSONResponse({"id": fired.id, "name": fired.name, "severity": fired.severity,
                             "target_resource": fired.target_resource}, status_code=201)

    async def resolve_alert(self, request: Request) -> Response:
        try:
            count = self.alerts.resolve(request.path_params["alert"]) if self.alerts else 0
        except UnknownAlert:
            count = -1
        if count < 0 or self.alerts is None:
            return JSONResponse({"error": {"code": "NotFound", "message": "no such alert"}}, status_code=404)
        return JSONResponse({"resolved": count})


def _bad_request(message: str, code: str = "InvalidFault") -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=400)
