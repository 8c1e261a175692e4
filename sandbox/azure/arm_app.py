"""The ARM endpoint: Azure Resource Manager's REST surface for the resources a failover touches.

The real ``azure-mgmt-*`` clients talk to it unchanged (``base_url`` + the sandbox CA), so the
rules that matter to them are Azure's own:

- any bearer token and any ``api-version`` are accepted; a missing token is a 401 and a missing
  api-version a 400, as ARM answers;
- paths and resource names are case-insensitive;
- errors are ``{"error": {"code", "message"}}``; unknown resources are 404 ``ResourceNotFound``;
- long-running operations answer 202 with absolute monitor URLs: SQL gives
  ``Azure-AsyncOperation`` (status body) and ``Location`` (the final resource), Storage a
  ``Location`` monitor that answers 202 until done, Front Door ``Azure-AsyncOperation`` with the
  resource's own URL as the final GET. ``Retry-After`` is configurable (0 in tests);
- injected ``arm_throttle``/``arm_error`` faults answer before anything reaches a resource
  provider, so a retried mutation still runs once;
- with a write limit (``arm_throttle``, opt-in), a write beyond the subscription's token bucket is
  answered 429 + Retry-After the same way, and every write carries the remaining budget.

Microsoft.Network/dnsZones (synchronous, no operations) has its routes in ``arm_dns``; Microsoft.Web
(App Service plans, web app settings; synchronous here too) in ``arm_web``; Azure Monitor's alerts
(Microsoft.AlertsManagement, subscription-wide) in ``arm_alerts``; Service Health and Resource Health
(Microsoft.ResourceHealth) in ``arm_health``.

Every request is tallied by method, path and ``$expand`` (``requests_seen``): how many times a
client asked for a thing is what tells a single read from a repeated one (``AzureSandbox.arm_requests``).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import arm_shapes as shapes
from .alerts import AlertBook
from .arm_alerts import alert_routes
from .arm_dns import dns_routes
from .arm_health import health_routes
from .arm_throttle import ArmWriteThrottle
from .arm_web import web_routes
from .clock import iso
from .errors import ArmError
from .faults import FaultRegistry
from .operations import FAILED, IN_PROGRESS, Operation
from .service_health import ServiceHealth
from .world import SQL_FAILOVERS, World

Result = tuple[int, Any, dict[str, str]]
"""(HTTP status, JSON body or None, extra headers)"""


@dataclass
class Call:
    """One ARM request, reduced to what handlers need."""

    method: str
    path: str
    base: str  # "https://127.0.0.1:PORT", for absolute monitor URLs
    api_version: str
    query: dict[str, str]
    body: Any
    params: dict[str, str]


_RG = r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers"
_SQL = _RG + r"/Microsoft\.Sql/servers/(?P<server>[^/]+)"
_STORAGE = _RG + r"/Microsoft\.Storage/storageAccounts/(?P<account>[^/]+)"
_CDN = _RG + r"/Microsoft\.Cdn/profiles/(?P<profile>[^/]+)"
_OG = _CDN + r"/originGroups/(?P<og>[^/]+)"
_EP = _CDN + r"/afdEndpoints/(?P<endpoint>[^/]+)"
_FAILED_STATUS = 400  # a monitor URL reports a Failed operation with an error status + ARM body


class ArmApi:
    """Routes ARM requests to the world and renders its answers."""

    def __init__(self, world: World, faults: FaultRegistry, retry_after: int = 0,
                 alerts: AlertBook | None = None, throttle: ArmWriteThrottle | None = None,
                 health: ServiceHealth | None = None) -> None:
        self.world = world
        self.faults = faults
        self.retry_after = retry_after
        self.throttle = throttle  # the per-subscription write limit (``arm_throttle``); None: never throttles
        self._seen: Counter[tuple[str, str, str]] = Counter()  # (METHOD, path lower-cased, $expand lower-cased)
        self._seen_lock = threading.Lock()
        table: list[tuple[str, str, Callable[[Call], Result]]] = [
            ("GET", _SQL + "$", self.get_sql_server),
            ("GET", _SQL + "/failoverGroups$", self.list_failover_groups),
            ("GET", _SQL + "/failoverGroups/(?P<fg>[^/]+)$", self.get_failover_group),
            ("PUT", _SQL + "/failoverGroups/(?P<fg>[^/]+)$", self.put_failover_group),
            ("POST", _SQL + "/failoverGroups/(?P<fg>[^/]+)/(?P<action>failover|forceFailoverAllowDataLoss"
                            "|tryPlannedBeforeForcedFailover)$", self.post_failover),
            ("GET", _SQL + "/databases$", self.list_databases),
            ("GET", _SQL + "/databases/(?P<db>[^/]+)$", self.get_database),
            ("PUT", _SQL + "/databases/(?P<db>[^/]+)$", self.put_database),
            ("DELETE", _SQL + "/databases/(?P<db>[^/]+)$", self.delete_database),
            ("GET", _RG + r"/Microsoft\.Sql/locations/(?P<loc>[^/]+)/databaseOperationResults"
                          r"/(?P<op>[^/]+)$", self.database_operation_result),
            ("GET", _SQL + "/replicationLinks$", self.list_server_links),
            ("GET", _SQL + "/databases/(?P<db>[^/]+)/replicationLinks$", self.list_database_links),
            ("GET", _SQL + "/databases/(?P<db>[^/]+)/replicationLinks/(?P<link>[^/]+)$", self.get_link),
            ("GET", _RG + r"/Microsoft\.Sql/locations/(?P<loc>[^/]+)/failoverGroupAzureAsyncOperation"
                          r"/(?P<op>[^/]+)$", self.sql_operation_status),
            ("GET", _RG + r"/Microsoft\.Sql/locations/(?P<loc>[^/]+)/failoverGroupOperationResults"
                          r"/(?P<op>[^/]+)$", self.sql_operation_result),
            ("GET", _STORAGE + "$", self.get_storage_account),
            ("POST", _STORAGE + "/failover$", self.post_storage_failover),
            ("POST", _STORAGE + "/restoreBlobRanges$", self.post_restore_blob_ranges),
            ("GET", _RG + r"/Microsoft\.Storage/locations/(?P<loc>[^/]+)/operationResults/(?P<op>[^/]+)$",
             self.blob_restore_result),
            ("GET", r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Storage/locations/(?P<loc>[^/]+)"
                    r"/asyncoperations/(?P<op>[^/]+)$", self.storage_operation_monitor),
            ("GET", _CDN + "$", self.get_profile),
            ("GET", _CDN + "/originGroups$", self.list_origin_groups),
            ("GET", _OG + "$", self.get_origin_group),
            ("PATCH", _OG + "$", self.patch_origin_group),
            ("GET", _OG + "/origins$", self.list_origins),
            ("GET", _OG + "/origins/(?P<origin>[^/]+)$", self.get_origin),
            ("PATCH", _OG + "/origins/(?P<origin>[^/]+)$", self.patch_origin),
            ("GET", _CDN + "/afdEndpoints$", self.list_endpoints),
            ("GET", _EP + "$", self.get_endpoint),
            ("GET", _EP + "/routes$", self.list_routes),
            ("GET", _EP + "/routes/(?P<route>[^/]+)$", self.get_route),
            ("GET", _RG + r"/Microsoft\.Cdn/operationresults/(?P<op>[^/]+)$", self.cdn_operation_status),
            *dns_routes(world, _RG),  # Microsoft.Network/dnsZones (``arm_dns``)
            *web_routes(world, _RG),  # Microsoft.Web serverfarms and sites/config (``arm_web``)
            # Microsoft.AlertsManagement/alerts (``arm_alerts``)
            *(alert_routes(alerts, world.topology.subscription_id) if alerts is not None else []),
            # Microsoft.ResourceHealth events and availabilityStatuses (``arm_health``)
            *(health_routes(health, world) if health is not None else []),
        ]
        self._routes = [(m, re.compile(p, re.IGNORECASE), h) for m, p, h in table]

    def asgi(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._endpoint,
                                       methods=["GET", "PUT", "POST", "PATCH", "DELETE"])])

    def requests_seen(self) -> list[dict[str, Any]]:
        """Every request received so far, by method, path and ``$expand``, with how many times."""
        with self._seen_lock:
            seen = sorted(self._seen.items())
        return [{"method": m, "path": p, "expand": e, "count": n} for (m, p, e), n in seen]

    def forget_requests(self) -> None:
        with self._seen_lock:
            self._seen.clear()

    # ===================================================================== the front door
    async def _endpoint(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        with self._seen_lock:
            self._seen[(request.method.upper(), request.url.path.lower(),
                        request.query_params.get("$expand", "").lower())] += 1
        headers = {"x-ms-request-id": request_id,
                   "x-ms-correlation-request-id": request.headers.get("x-ms-client-request-id", request_id)}
        try:
            status, body, extra = await self._dispatch(request)
        except ArmError as exc:
            status, body, extra = exc.status, exc.body(), {}
        headers.update(extra)
        if body is None:
            return Response(status_code=status, headers=headers)
        return Response(json.dumps(body), status_code=status, headers=headers,
                        media_type="application/json; charset=utf-8")

    async def _dispatch(self, request: Request) -> Result:
        method, path = request.method.upper(), request.url.path
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise ArmError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is missing or is not a bearer token.")
        rejection = self.faults.take_arm_rejection(method, path)
        if rejection is not None:
            extra = {} if rejection.retry_after is None else {"Retry-After": str(rejection.retry_after)}
            return rejection.status, {"error": {"code": rejection.code, "message": rejection.message}}, extra
        verdict = self.throttle.admit(method, path) if self.throttle is not None else None
        if verdict is not None and not verdict.allowed:
            return 429, verdict.body(), verdict.headers()
        api_version = request.query_params.get("api-version")
        if not api_version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        allowed: set[str] = set()
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            if route_method != method:
                allowed.add(route_method)
                continue
            body = await self._json_body(request) if method in ("PUT", "PATCH", "POST") else None
            call = Call(method=method, path=path, base=f"{request.url.scheme}://{request.url.netloc}",
                        api_version=api_version, query=dict(request.query_params), body=body,
                        params=match.groupdict())
            self._check_scope(call)
            with self.world.lock:
                status, answer, extra = handler(call)
            return status, answer, {**(verdict.headers() if verdict is not None else {}), **extra}
        if allowed:
            raise ArmError(405, "MethodNotAllowed",
                           f"The requested method '{method}' is not allowed here (allowed: {sorted(allowed)}).")
        raise ArmError(404, "InvalidResourceType",
                       f"The sandbox has no resource type or operation at '{path}'.")

    @staticmethod
    async def _json_body(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid JSON.") from None

    def _check_scope(self, call: Call) -> None:
        t = self.world.topology
        sub, rg = call.params.get("sub"), call.params.get("rg")
        if sub is not None and sub.lower() != t.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        if rg is not None and rg.lower() != t.resource_group.lower():
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    # ===================================================================== LRO plumbing
    def _retry(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}

    def _q(self, call: Call) -> str:
        return f"?api-version={call.api_version}"

    def _sql_monitors(self, call: Call, op: Operation) -> dict[str, str]:
        t = self.world.topology
        base = (f"{call.base}/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
                f"/providers/Microsoft.Sql/locations/{op.location}")
        return {"Azure-AsyncOperation": f"{base}/failoverGroupAzureAsyncOperation/{op.id}{self._q(call)}",
                "Location": f"{base}/failoverGroupOperationResults/{op.id}{self._q(call)}",
                **self._retry()}

    def _storage_monitor(self, call: Call, op: Operation) -> dict[str, str]:
        t = self.world.topology
        return {"Location": (f"{call.base}/subscriptions/{t.subscription_id}/providers/Microsoft.Storage"
                             f"/locations/{op.location}/asyncoperations/{op.id}"
                             f"?monitor=true&api-version={call.api_version}"),
                **self._retry()}

    def _cdn_monitor(self, call: Call, op: Operation) -> dict[str, str]:
        t = self.world.topology
        return {"Azure-AsyncOperation": (f"{call.base}/subscriptions/{t.subscription_id}/resourcegroups/"
                                         f"{t.resource_group}/providers/Microsoft.Cdn/operationresults/"
                                         f"{op.id}{self._q(call)}"),
                **self._retry()}

    def _operation(self, call: Call, provider: str) -> Operation:
        self.world.advance()
        op = self.world.operations.get(call.params["op"])
        if op is None or op.provider != provider:
            raise ArmError(404, "ResourceNotFound", f"Operation '{call.params['op']}' was not found.")
        return op

    def _status_body(self, op: Operation) -> dict[str, Any]:
        body: dict[str, Any] = {"name": op.id, "status": op.status, "startTime": iso(op.started_at)}
        if op.ended_at is not None:
            body["endTime"] = iso(op.ended_at)
        if op.status == FAILED:
            body["error"] = op.error
        return body

    def _status(self, op: Operation) -> Result:
        return 200, self._status_body(op), self._retry() if op.status == IN_PROGRESS else {}

    # ===================================================================== Microsoft.Sql
    def get_sql_server(self, call: Call) -> Result:
        return 200, shapes.sql_server(self.world, self.world.sql_server(call.params["server"])), {}

    def list_failover_groups(self, call: Call) -> Result:
        server = self.world.sql_server(call.params["server"]).name
        groups = self.world.failover_groups_of(server)
        return 200, {"value": [shapes.failover_group(self.world, g, server) for g in groups]}, {}

    def get_failover_group(self, call: Call) -> Result:
        server = self.world.sql_server(call.params["server"]).name
        group = self.world.failover_group(server, call.params["fg"])
        return 200, shapes.failover_group(self.world, group, server), {}

    def put_failover_group(self, call: Call) -> Result:
        op, _ = self.world.begin_failover_group_put(call.params["server"], call.params["fg"], call.body)
        return 202, None, self._sql_monitors(call, op)

    def post_failover(self, call: Call) -> Result:
        action = next(a for a in SQL_FAILOVERS if a.lower() == call.params["action"].lower())
        op = self.world.begin_failover_group_failover(call.params["server"], call.params["fg"], action)
        return 202, None, self._sql_monitors(call, op)

    def sql_operation_status(self, call: Call) -> Result:
        return self._status(self._operation(call, "Microsoft.Sql"))

    def sql_operation_result(self, call: Call) -> Result:
        """The ``Location`` monitor: 202 while running, then the failover group as the server the
        operation was sent to sees it."""
        op = self._operation(call, "Microsoft.Sql")
        if op.status == IN_PROGRESS:
            return 202, None, {"Location": f"{call.base}{call.path}{self._q(call)}", **self._retry()}
        if op.status == FAILED:
            return _FAILED_STATUS, {"error": op.error}, {}
        server = op.details["server"]
        fg_name = op.resource_id.rstrip("/").split("/")[-1]
        group = self.world.failover_group(server, fg_name)
        return 200, shapes.failover_group(self.world, group, server), {}

    def list_server_links(self, call: Call) -> Result:
        server = self.world.sql_server(call.params["server"]).name
        links = self.world.replication_links(server)
        return 200, {"value": [shapes.replication_link(self.world, g, db, server) for g, db, _ in links]}, {}

    def list_database_links(self, call: Call) -> Result:
        server = self.world.sql_server(call.params["server"]).name
        links = self.world.replication_links(server, call.params["db"])
        return 200, {"value": [shapes.replication_link(self.world, g, db, server) for g, db, _ in links]}, {}

    def get_link(self, call: Call) -> Result:
        server = self.world.sql_server(call.params["server"]).name
        for group, db, _ in self.world.replication_links(server, call.params["db"]):
            if self.world.replication_link_id(group, db).lower() == call.params["link"].lower():
                return 200, shapes.replication_link(self.world, group, db, server), {}
        raise ArmError(404, "ResourceNotFound",
                       f"The replication link '{call.params['link']}' was not found.")

    # --- databases: point-in-time restore to a new database, and deleting it (``pitr``) ---------
    def list_databases(self, call: Call) -> Result:
        return 200, {"value": [shapes.database(self.world, d) for d in self.world.databases_of(call.params["server"])]}, {}

    def get_database(self, call: Call) -> Result:
        return 200, shapes.database(self.world, self.world.database(call.params["server"], call.params["db"])), {}

    def put_database(self, call: Call) -> Result:
        """202 with a ``Location`` monitor (``databaseOperationResults``), as Microsoft's example shows;
        the SDK then GETs the database itself."""
        op = self.world.begin_point_in_time_restore(call.params["server"], call.params["db"], call.body)
        return 202, None, self._database_monitor(call, op)

    def delete_database(self, call: Call) -> Result:
        op = self.world.begin_database_delete(call.params["server"], call.params["db"])
        if op is None:
            return 204, None, {}
        return 202, None, self._database_monitor(call, op)

    def _database_monitor(self, call: Call, op: Operation) -> dict[str, str]:
        t = self.world.topology
        return {"Location": (f"{call.base}/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
                             f"/providers/Microsoft.Sql/locations/{op.location}/databaseOperationResults/{op.id}"
                             f"{self._q(call)}"),
                **self._retry()}

    def database_operation_result(self, call: Call) -> Result:
        """202 while running; then the restored database (200), or an empty 200 for a delete."""
        op = self._operation(call, "Microsoft.Sql")
        if op.status == IN_PROGRESS:
            return 202, None, {"Location": f"{call.base}{call.path}{self._q(call)}", **self._retry()}
        if op.status == FAILED:
            return _FAILED_STATUS, {"error": op.error}, {}
        if op.name == "databasePointInTimeRestore":
            found = self.world.database(op.details["server"], op.details["database"])
            return 200, shapes.database(self.world, found), {}
        return 200, None, {}

    # ===================================================================== Microsoft.Storage
    def get_storage_account(self, call: Call) -> Result:
        account = self.world.storage_account(call.params["account"])
        expand = call.query.get("$expand", "").lower()
        shape = shapes.storage_account(self.world, account, expand == "georeplicationstats")
        if expand == "blobrestorestatus":
            restore = self.world.blob_restore_status(account.name)
            if restore is not None:
                shape["properties"]["blobRestoreStatus"] = restore
        return 200, shape, {}

    def post_storage_failover(self, call: Call) -> Result:
        failover_type = call.query.get("failoverType")
        if failover_type is not None and failover_type.lower() != "planned":
            raise ArmError(400, "InvalidQueryParameterValue",
                           f"failoverType '{failover_type}' is not supported; use 'Planned' or omit it.")
        op = self.world.begin_storage_failover(call.params["account"], planned=failover_type is not None)
        return 202, None, self._storage_monitor(call, op)

    def storage_operation_monitor(self, call: Call) -> Result:
        op = self._operation(call, "Microsoft.Storage")
        if op.status == IN_PROGRESS:
            return 202, None, {"Location": f"{call.base}{call.path}?monitor=true&api-version={call.api_version}",
                               **self._retry()}
        if op.status == FAILED:
            return _FAILED_STATUS, {"error": op.error}, {}
        return 200, None, {}

    # --- blob ranges restored to a point in time (``blob_pitr``) ---------------------------------
    def post_restore_blob_ranges(self, call: Call) -> Result:
        """202 with the ``InProgress`` status body and a ``Location`` monitor, as Microsoft's example shows."""
        op, restore = self.world.begin_blob_ranges_restore(call.params["account"], call.body)
        t = self.world.topology
        monitor = (f"{call.base}/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
                   f"/providers/Microsoft.Storage/locations/{op.location}/operationResults/{op.id}{self._q(call)}")
        return 202, restore.status_body(), {"Location": monitor, **self._retry()}

    def blob_restore_result(self, call: Call) -> Result:
        """202 while running; then 200 with the ``BlobRestoreStatus`` (``Complete``, or ``Failed`` and why)."""
        op = self._operation(call, "Microsoft.Storage")
        restore = self.world.blob_restore_of(op)
        if restore is None:
            raise ArmError(404, "ResourceNotFound", f"Operation '{op.id}' is not a blob restore.")
        if op.status == IN_PROGRESS:
            return 202, None, {"Location": f"{call.base}{call.path}{self._q(call)}", **self._retry()}
        return 200, restore.status_body(), {}

    # ===================================================================== Microsoft.Cdn
    def get_profile(self, call: Call) -> Result:
        return 200, shapes.cdn_profile(self.world, self.world.cdn_profile(call.params["profile"])), {}

    def list_origin_groups(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        return 200, {"value": [shapes.origin_group(self.world, fd, og) for og in fd.origin_groups.values()]}, {}

    def get_origin_group(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        og = self.world.origin_group(fd.profile, call.params["og"])
        return 200, shapes.origin_group(self.world, fd, og), {}

    def patch_origin_group(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        op = self.world.begin_origin_group_update(fd.profile, call.params["og"], call.body)
        og = self.world.origin_group(fd.profile, call.params["og"])
        return 202, shapes.origin_group(self.world, fd, og), self._cdn_monitor(call, op)

    def list_origins(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        og = self.world.origin_group(fd.profile, call.params["og"])
        return 200, {"value": [shapes.origin(self.world, fd, og, o) for o in og.origins.values()]}, {}

    def get_origin(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        og = self.world.origin_group(fd.profile, call.params["og"])
        origin = self.world.origin(fd.profile, og.name, call.params["origin"])
        return 200, shapes.origin(self.world, fd, og, origin), {}

    def patch_origin(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        og = self.world.origin_group(fd.profile, call.params["og"])
        op = self.world.begin_origin_update(fd.profile, og.name, call.params["origin"], call.body)
        origin = self.world.origin(fd.profile, og.name, call.params["origin"])
        return 202, shapes.origin(self.world, fd, og, origin), self._cdn_monitor(call, op)

    def list_endpoints(self, call: Call) -> Result:
        fd = self.world.cdn_profile(call.params["profile"])
        return 200, {"value": [shapes.afd_endpoint(self.world, fd)]}, {}

    def get_endpoint(self, call: Call) -> Result:
        fd = self._endpoint_of(call)
        return 200, shapes.afd_endpoint(self.world, fd), {}

    def list_routes(self, call: Call) -> Result:
        fd = self._endpoint_of(call)
        return 200, {"value": [shapes.route(self.world, fd)]}, {}

    def get_route(self, call: Call) -> Result:
        fd = self._endpoint_of(call)
        if call.params["route"].lower() != fd.route.lower():
            raise ArmError(404, "ResourceNotFound", f"Route '{call.params['route']}' was not found.")
        return 200, shapes.route(self.world, fd), {}

    def _endpoint_of(self, call: Call) -> Any:
        fd = self.world.cdn_profile(call.params["profile"])
        if call.params["endpoint"].lower() != fd.endpoint.lower():
            raise ArmError(404, "ResourceNotFound", f"AFD endpoint '{call.params['endpoint']}' was not found.")
        return fd

    def cdn_operation_status(self, call: Call) -> Result:
        return self._status(self._operation(call, "Microsoft.Cdn"))
