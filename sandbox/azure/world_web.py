"""App Service in the world: an App Service plan and a web app per region, the plan's instance
count, and each app's app settings and connection strings.

ARM (``arm_web``) reads and writes them here. Rules (Azure's): a plan's ``sku.capacity`` is 1 up to
its tier's ``maximumNumberOfWorkers`` (30 for the sandbox's PremiumV3 plans; more is a 400
``BadRequest``, and nothing changes); PUTting an app's app settings or connection strings
replaces the whole set (what the API documents: a client that wants to change one key reads the
set, merges and writes it back); connection string types are Azure's ``ConnectionStringType``.

Each app starts with the connection string ``orders``, which the region app reads on every write
(``db_target``): in the default ``listener`` mode it names the failover group's read-write listener
(``odin-fg.database.windows.net``: writes follow the primary), in ``per_server`` mode the primary
region's server (``odin-sql-eastus.database.windows.net``: after a failover the DR region's app
writes to the old primary until a runbook moves the string). The app setting ``DB_TARGET`` (the
primary's server name) is configuration a runbook may move too; the app does not read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .db_target import DbTarget, InvalidConnectionString, resolve
from .errors import ArmError, DataPlaneUnavailable
from .world_base import WorldBase

if TYPE_CHECKING:
    from .world_sql import FailoverGroup, SqlServer

SKU = {"name": "P1v3", "tier": "PremiumV3", "size": "P1v3", "family": "Pv3"}
MAX_WORKERS = 30
CONNECTION_STRING_TYPES = ("MySql", "SQLServer", "SQLAzure", "Custom", "NotificationHub", "ServiceBus", "EventHub",
                           "ApiHub", "DocDb", "RedisCache", "PostgreSQL")
ORDERS_CONNECTION_STRING = "orders"
"""The connection string the region apps write orders through (``db_target``)."""


@dataclass
class AppServicePlan:
    name: str
    region: str
    capacity: int = 1
    kind: str = "app"


@dataclass
class WebApp:
    name: str
    region: str
    plan: str
    app_settings: dict[str, str] = field(default_factory=dict)
    connection_strings: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (value, type)


def orders_connection_string(server: str, database: str) -> str:
    """How the demo service would reach the orders database on ``server`` (no password: managed identity)."""
    return (f"Server=tcp:{server}.database.windows.net,1433;Initial Catalog={database};"
            "Authentication=Active Directory Default;Encrypt=True")


class WebRules(WorldBase):
    """Plans and web apps; the ARM handlers' questions and changes."""

    app_service_plans: dict[str, AppServicePlan]
    web_apps: dict[str, WebApp]
    servers: dict[str, SqlServer]  # world_sql's: what a connection string may name
    failover_groups: dict[str, FailoverGroup]

    def _reset_web(self) -> None:
        t = self.topology
        primary = t.sql_servers[t.primary_region]
        host = t.failover_group if t.connection_mode == "listener" else primary
        orders = (orders_connection_string(host, t.database), "SQLAzure")
        self.app_service_plans = {name: AppServicePlan(name, region) for region, name in t.app_service_plans.items()}
        self.web_apps = {
            name: WebApp(name, region, t.app_service_plans[region], app_settings={"DB_TARGET": primary},
                         connection_strings={ORDERS_CONNECTION_STRING: orders})
            for region, name in t.web_apps.items()}

    def orders_target(self, region: str) -> DbTarget:
        """The database the region's app writes orders to, from its ``orders`` connection string as
        it is now; ``ConnectionStringInvalid`` when the app could not connect with it."""
        with self.lock:
            app = self.web_app(self.topology.web_apps[region])
            pair = app.connection_strings.get(ORDERS_CONNECTION_STRING)
            where = f"The connection string '{ORDERS_CONNECTION_STRING}' of web app '{app.name}'"
            if pair is None:
                raise DataPlaneUnavailable("ConnectionStringInvalid", f"{where} is not set.")
            try:
                return resolve(pair[0], failover_groups=list(self.failover_groups), servers=list(self.servers))
            except InvalidConnectionString as exc:
                raise DataPlaneUnavailable("ConnectionStringInvalid", f"{where} is not usable: {exc}.") from None

    # ===================================================================== plans
    def app_service_plan(self, name: str) -> AppServicePlan:
        with self.lock:
            found = self._find(self.app_service_plans, name)
            if found is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Web/serverfarms/{name}' under resource group "
                               f"'{self.topology.resource_group}' was not found.")
            return found

    def update_app_service_plan(self, name: str, body: Any) -> AppServicePlan:
        """PUT or PATCH an existing plan: ``sku.capacity`` (when given) is the instance count."""
        with self.lock:
            plan = self.app_service_plan(name)
            if not isinstance(body, dict):
                raise ArmError(400, "BadRequest", "The request body must be a JSON object.")
            sku = body.get("sku")
            capacity = sku.get("capacity") if isinstance(sku, dict) else None
            if capacity is not None:
                if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= MAX_WORKERS:
                    raise ArmError(400, "BadRequest",
                                   f"The number of workers '{capacity}' is not valid for the {SKU['tier']} tier: "
                                   f"it must be between 1 and {MAX_WORKERS}.")
                plan.capacity = capacity
            if isinstance(body.get("kind"), str):
                plan.kind = body["kind"]
            return plan

    def sites_on(self, plan: str) -> int:
        with self.lock:
            return sum(1 for app in self.web_apps.values() if app.plan.lower() == plan.lower())

    # ===================================================================== web apps
    def web_app(self, name: str) -> WebApp:
        with self.lock:
            found = self._find(self.web_apps, name)
            if found is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Web/sites/{name}' under resource group "
                               f"'{self.topology.resource_group}' was not found.")
            return found

    def put_app_settings(self, name: str, body: Any) -> WebApp:
        """Replace every app setting of the app with ``properties`` (string values only)."""
        with self.lock:
            app = self.web_app(name)
            props = _properties(body)
            bad = next((k for k, v in props.items() if not isinstance(v, str)), None)
            if bad is not None:
                raise ArmError(400, "BadRequest", f"The value of app setting '{bad}' must be a string.")
            app.app_settings = dict(props)
            return app

    def put_connection_strings(self, name: str, body: Any) -> WebApp:
        """Replace every connection string of the app with ``properties`` (``{value, type}`` each)."""
        with self.lock:
            app = self.web_app(name)
            strings: dict[str, tuple[str, str]] = {}
            for key, pair in _properties(body).items():
                value = pair.get("value") if isinstance(pair, dict) else None
                kind = pair.get("type") if isinstance(pair, dict) else None
                if not isinstance(value, str):
                    raise ArmError(400, "BadRequest", f"The connection string '{key}' needs a string 'value'.")
                known = next((t for t in CONNECTION_STRING_TYPES
                              if isinstance(kind, str) and t.lower() == kind.lower()), None)
                if known is None:
                    raise ArmError(400, "BadRequest",
                                   f"The type '{kind}' of connection string '{key}' is not one of "
                                   f"{', '.join(CONNECTION_STRING_TYPES)}.")
                strings[key] = (value, known)
            app.connection_strings = strings
            return app

    def set_app_setting(self, app: str, name: str, value: str | None) -> None:
        """Change one setting behind ARM's back (tests: someone else edited the app)."""
        with self.lock:
            found = self.web_app(app)
            if value is None:
                found.app_settings.pop(name, None)
            else:
                found.app_settings[name] = value

    def _web_summary(self) -> dict[str, Any]:
        return {"app_service_plans": {p.name: p.capacity for p in self.app_service_plans.values()},
                "web_apps": {a.name: {"app_settings": sorted(a.app_settings),
                                      "connection_strings": sorted(a.connection_strings)}
                             for a in self.web_apps.values()}}


def _properties(body: Any) -> dict[str, Any]:
    props = body.get("properties") if isinstance(body, dict) else None
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ArmError(400, "BadRequest", "'properties' must be a JSON object.")
    return props
