"""ARM routes for Microsoft.Web: App Service plans (``serverfarms``: GET, PUT, PATCH) and a web
app's app settings and connection strings (list by POST, replace by PUT), in the shapes of
Microsoft's examples (api-version 2025-05-01, what ``azure-mgmt-web`` 11.0.1 sends).

Kept beside ``arm_app`` as ``arm_dns`` is: these calls are synchronous here (a plan's PUT answers
200 with the plan, which the SDK's poller accepts as done), so they share only the front door —
auth, faults, scope, the world's lock — which ``ArmApi`` applies before calling them.

- ``PUT``/``PATCH serverfarms/{plan}``: updates an existing plan (the sandbox creates none);
  ``sku.capacity`` is the instance count;
- ``POST sites/{app}/config/appsettings/list`` and ``…/connectionstrings/list``: the whole set,
  values included (ARM's list actions are POSTs because they return secrets);
- ``PUT sites/{app}/config/appsettings`` and ``…/connectionstrings``: replace the whole set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .world_web import MAX_WORKERS, SKU, AppServicePlan, WebApp

if TYPE_CHECKING:
    from .arm_app import Call, Result
    from .world import World

Handler = Callable[["Call"], "Result"]


def web_routes(world: World, rg_pattern: str) -> list[tuple[str, str, Handler]]:
    """``(method, path pattern, handler)`` for ``ArmApi``'s table; ``rg_pattern`` matches up to ``/providers``."""
    plan = rg_pattern + r"/Microsoft\.Web/serverfarms/(?P<plan>[^/]+)"
    config = rg_pattern + r"/Microsoft\.Web/sites/(?P<app>[^/]+)/config"

    def get_plan(call: Call) -> Result:
        return 200, plan_shape(world, world.app_service_plan(call.params["plan"])), {}

    def update_plan(call: Call) -> Result:
        return 200, plan_shape(world, world.update_app_service_plan(call.params["plan"], call.body)), {}

    def list_settings(call: Call) -> Result:
        return 200, app_settings_shape(world, world.web_app(call.params["app"])), {}

    def put_settings(call: Call) -> Result:
        return 200, app_settings_shape(world, world.put_app_settings(call.params["app"], call.body)), {}

    def list_strings(call: Call) -> Result:
        return 200, connection_strings_shape(world, world.web_app(call.params["app"])), {}

    def put_strings(call: Call) -> Result:
        return 200, connection_strings_shape(world, world.put_connection_strings(call.params["app"], call.body)), {}

    return [("GET", plan + "$", get_plan),
            ("PUT", plan + "$", update_plan),
            ("PATCH", plan + "$", update_plan),
            ("POST", config + "/appsettings/list$", list_settings),
            ("PUT", config + "/appsettings$", put_settings),
            ("POST", config + "/connectionstrings/list$", list_strings),
            ("PUT", config + "/connectionstrings$", put_strings)]


def plan_shape(world: World, plan: AppServicePlan) -> dict[str, Any]:
    location = world.display_name(plan.region)
    return {"id": world.topology.app_service_plan_id(plan.name), "name": plan.name,
            "type": "Microsoft.Web/serverfarms", "kind": plan.kind, "location": location,
            "properties": {"status": "Ready", "maximumNumberOfWorkers": MAX_WORKERS,
                           "numberOfWorkers": plan.capacity, "geoRegion": location,
                           "numberOfSites": world.sites_on(plan.name), "isSpot": False, "reserved": False,
                           "targetWorkerCount": 0, "targetWorkerSizeId": 0, "provisioningState": "Succeeded"},
            "sku": {**SKU, "capacity": plan.capacity}}


def _config(world: World, app: WebApp, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{world.topology.web_app_id(app.name)}/config/{name}", "name": name,
            "type": "Microsoft.Web/sites/config", "kind": "app", "properties": properties}


def app_settings_shape(world: World, app: WebApp) -> dict[str, Any]:
    return _config(world, app, "appsettings", dict(app.app_settings))


def connection_strings_shape(world: World, app: WebApp) -> dict[str, Any]:
    return _config(world, app, "connectionstrings",
                   {k: {"value": v, "type": t} for k, (v, t) in app.connection_strings.items()})
