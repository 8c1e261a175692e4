"""The demo service deployed in one region: the thing users reach through Front Door.

It is deliberately small — an order API and a blob API — because its job is to make the
consequences of a failover visible: orders go where the ``orders`` connection string of the
region's web app says, read on every write (``db_target``): the failover group's read-write
listener follows its *current* primary (so writes fail while that primary's region is down,
wherever the app runs); a named server takes writes only while it is the primary and its region
answers (a geo-secondary is read-only: 503 ``DatabaseReadOnly``; a string the app cannot use: 500
``ConnectionStringInvalid``; both name the server). Blobs go to the storage account's current
primary, and every response names the region that served it (``x-odin-region``), which is how a
drill sees Front Door move traffic.

Endpoints: ``GET|HEAD /health``; ``POST /api/orders`` (JSON) → 201 ``{id, acknowledged_at,
region, database_server, payload_sha256}``; ``GET /api/orders/{id}``; ``GET /api/sql/{server}/databases/{db}/orders[/{id}]`` (one named
database, e.g. a point-in-time restored copy); ``PUT /api/blobs/{name}``
→ 201; ``GET /api/blobs/{name}``. Faults of the region apply to every request: latency first,
then the error rate (500). During a region outage the listener itself is closed (see
``server.RestartableServer``); requests racing that get 503.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import iso
from .errors import DataPlaneUnavailable
from .world import AckedWrite, World
from .world_web import ORDERS_CONNECTION_STRING

REGION_HEADER = "x-odin-region"


class RegionApp:
    """One region's instance of the demo service."""

    def __init__(self, world: World, region: str, seed: object = 0) -> None:
        self.world = world
        self.region = region
        self._rng = random.Random(f"{seed}/app/{region}")
        self._app = Starlette(routes=[
            Route("/", self.root, methods=["GET"]),
            Route("/health", self.health, methods=["GET", "HEAD"]),
            Route("/api/orders", self.create_order, methods=["POST"]),
            Route("/api/orders/{order_id}", self.get_order, methods=["GET"]),
            Route("/api/sql/{server}/databases/{database}/orders", self.list_database_orders, methods=["GET"]),
            Route("/api/sql/{server}/databases/{database}/orders/{order_id}", self.get_database_order,
                  methods=["GET"]),
            Route("/api/blobs/{name:path}", self.put_blob, methods=["PUT"]),
            Route("/api/blobs/{name:path}", self.get_blob, methods=["GET"]),
        ])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        faults = self.world.faults
        if faults.region_down(self.region):
            response: Response = self._json({"error": "RegionUnavailable"}, 503)
        else:
            delay = faults.latency_ms(self.region)
            if delay:
                await asyncio.sleep(delay / 1000)
            rate = faults.error_rate(self.region)
            if rate and self._rng.random() < rate:
                response = self._json({"error": "InjectedError",
                                       "message": f"injected error_rate fault in {self.region}"}, 500)
            else:
                await self._app(scope, receive, send)
                return
        await response(scope, receive, send)

    def _json(self, body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers={REGION_HEADER: self.region})

    def _unavailable(self, exc: DataPlaneUnavailable) -> JSONResponse:
        return self._json({"error": exc.code, "message": exc.message}, 503)

    def _ack(self, ack: AckedWrite) -> dict[str, Any]:
        return {"id": ack.id, "acknowledged_at": iso(ack.at), "acknowledged_at_epoch": ack.at,
                "region": self.region, "committed_on": ack.committed_on, "payload_sha256": ack.sha256}

    # --- endpoints ---------------------------------------------------------------------------
    async def root(self, request: Request) -> Response:
        return self._json({"service": "odin-demo", "region": self.region})

    async def health(self, request: Request) -> Response:
        return self._json({"status": "ok", "region": self.region})

    async def create_order(self, request: Request) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return self._json({"error": "InvalidJson", "message": "the order must be a JSON object"}, 400)
        if not isinstance(payload, dict):
            return self._json({"error": "InvalidJson", "message": "the order must be a JSON object"}, 400)
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        try:
            target = self.world.orders_target(self.region)
        except DataPlaneUnavailable as exc:
            return self._json({"error": exc.code, "message": exc.message}, 500)
        try:
            ack = self.world.write_order(self.region, body, server=None if target.listener else target.name)
        except DataPlaneUnavailable as exc:
            return self._json({"error": exc.code, "database_server": target.host,
                               "message": f"web app of {self.region} writes to {target.host} (connection string "
                                          f"'{ORDERS_CONNECTION_STRING}'): {exc.message}"}, 503)
        result = self._ack(ack)
        result["database_server"] = ack.committed_on
        return self._json(result, 201)

    async def get_order(self, request: Request) -> Response:
        try:
            body = self.world.read_order(request.path_params["order_id"])
        except DataPlaneUnavailable as exc:
            return self._unavailable(exc)
        if body is None:
            return self._json({"error": "NotFound"}, 404)
        return self._json({"id": request.path_params["order_id"], "order": json.loads(body),
                           "region": self.region})

    async def get_database_order(self, request: Request) -> Response:
        """An order read from one named database (a restored copy, say): the app's connection
        string pointed at ``server``/``database`` instead of the failover group's listener."""
        p = request.path_params
        try:
            body = self.world.read_database_order(p["server"], p["database"], p["order_id"])
        except DataPlaneUnavailable as exc:
            return self._json({"error": exc.code, "message": exc.message},
                              404 if exc.code in ("ServerNotFound", "DatabaseNotFound") else 503)
        if body is None:
            return self._json({"error": "NotFound"}, 404)
        return self._json({"id": p["order_id"], "order": json.loads(body), "region": self.region,
                           "database": p["database"]})

    async def list_database_orders(self, request: Request) -> Response:
        """The ids of every order one named database holds (to find rows a restore should not have)."""
        p = request.path_params
        try:
            ids = self.world.database_order_ids(p["server"], p["database"])
        except DataPlaneUnavailable as exc:
            return self._json({"error": exc.code, "message": exc.message},
                              404 if exc.code in ("ServerNotFound", "DatabaseNotFound") else 503)
        return self._json({"database": p["database"], "count": len(ids), "ids": ids, "region": self.region})

    async def put_blob(self, request: Request) -> Response:
        data = await request.body()
        content_type = request.headers.get("content-type", "application/octet-stream")
        try:
            ack = self.world.write_blob(self.region, request.path_params["name"], data, content_type)
        except DataPlaneUnavailable as exc:
            return self._unavailable(exc)
        result = self._ack(ack)
        result["name"] = ack.key
        return self._json(result, 201)

    async def get_blob(self, request: Request) -> Response:
        try:
            found = self.world.read_blob(request.path_params["name"])
        except DataPlaneUnavailable as exc:
            return self._unavailable(exc)
        if found is None:
            return self._json({"error": "BlobNotFound"}, 404)
        data, content_type = found
        return Response(data, media_type=content_type, headers={REGION_HEADER: self.region})
