"""``AzureSandbox``: the whole simulated Azure, started and stopped as one thing.

It wires the pieces: one lock and one clock; the fault registry; the world; the HTTPS ARM
endpoint; a demo app per region (restartable listeners, closed during that region's outage);
the Front Door edge with its health probes; the admin API; the DNS responder (UDP) for its zone. ``with AzureSandbox() as sb:`` starts
everything on free ports of 127.0.0.1 in well under two seconds and stops it all on exit, on
success or failure. ``serve()`` is the long-running form behind ``odin sandbox up``.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TextIO

from .admin_app import AdminApi
from .alerts import AlertBook, AlertRecord, RuleSettings
from .arm_app import ArmApi
from .arm_throttle import ArmWriteThrottle, WriteLimit, parse_write_limit
from .clock import Clock
from .dns_server import DnsResponder
from .edge import EdgeProxy, HealthProbes
from .faults import FaultRegistry
from .keyvault import KeyVaultApi, SecretStore
from .log_analytics import LogAnalyticsApi, RequestTelemetry, recorded
from .platform_metrics import PlatformMetricsApi
from .region_app import RegionApp
from .scale import Scale, parse_scale
from .server import BackgroundServer, RestartableServer, bind
from .service_health import ServiceHealth
from .tls import make_tls
from .topology import REGIONS, Topology, seeded_uuid
from .world import World
from .world_web import orders_connection_string

SERVER_NAMES = ("arm", "frontdoor", "admin", "keyvault", "loganalytics", "metrics", *REGIONS)


class AzureSandbox:
    """A local Azure for region-failover drills. See the package docstring for the tour."""

    def __init__(self, state_dir: str | Path | None = None, seed: int = 0, *,
                 replication_lag_seconds: float = 2.0, storage_lag_seconds: float | None = None,
                 probe_interval_seconds: float = 0.5, probe_timeout_seconds: float = 1.0,
                 lro_retry_after: int = 1, operation_seconds: float = 0.0,
                 clock: Clock = time.time, host: str = "127.0.0.1",
                 ports: Mapping[str, int] | None = None, connection_mode: str = "listener",
                 alert_rules: RuleSettings | None = None,
                 scale: Scale | str | None = None, arm_write_limit: WriteLimit | str | None = None,
                 **pitr: Any) -> None:
        """
        :param scale: generated resources beside the fixed estate (``scale``): a ``Scale`` or
            ``"fg=200,storage=50,afd=50"``; None: the default world.
        :param arm_write_limit: ARM's per-subscription write limit (``arm_throttle``), e.g. ``"50/1"`` (a
            burst of 50 writes, 50 more per wall second); None (default): never throttles.
        :param state_dir: where ``ca.pem`` and ``odin_drills.sandbox.json`` (the info) are written so other
            processes can find and trust the sandbox; a temporary directory when None. Files the
            sandbox wrote are removed on stop.
        :param replication_lag_seconds: SQL geo-replication lag (real seconds).
        :param storage_lag_seconds: storage geo-replication lag; the SQL lag when None.
        :param lro_retry_after: ``Retry-After`` on long-running-operation responses (0: the
            client's ``polling_interval`` decides).
        :param operation_seconds: how long an operation takes without a ``slow_operations`` fault.
        :param ports: fixed ports by server name (arm, frontdoor, admin, eastus, westus); 0 = free.
        :param alert_rules: thresholds of the Azure Monitor alert rules (``alerts.RuleSettings``:
            failed-request rate > 5 % over 5 minutes -> Sev1, app unavailable -> Sev0).
        :param connection_mode: what each web app's ``orders`` connection string names at start
            (``topology.CONNECTION_MODES``): ``listener``, the failover group's listener; ``per_server``,
            the primary's server, with the Key Vault holding ``orders-db-<region>`` (each region's
            server's connection string) for a runbook's ``${secret:...}``.
        :param pitr: point-in-time restore settings (``pitr_log_lag_seconds``, default the SQL lag;
            ``pitr_granularity_seconds``, ``pitr_base_seconds``, ``pitr_seconds_per_gib``,
            ``pitr_base_size_bytes``, ``pitr_retention_seconds``): see ``pitr``.
        """
        bad = sorted(k for k in pitr if not k.startswith("pitr_"))
        if bad:
            raise TypeError(f"unexpected keyword arguments: {bad}")
        unknown = set(ports or {}) - set(SERVER_NAMES)
        if unknown:
            raise ValueError(f"unknown server names in ports: {sorted(unknown)}")
        self.seed = seed
        self.host = host
        self._ports = {name: int((ports or {}).get(name, 0)) for name in SERVER_NAMES}
        self._state_dir = Path(state_dir) if state_dir is not None else None
        self._options = dict(replication_lag_seconds=replication_lag_seconds,
                             storage_lag_seconds=storage_lag_seconds,
                             probe_interval_seconds=probe_interval_seconds, **pitr)
        self._probe_timeout = probe_timeout_seconds
        self._lro_retry_after = lro_retry_after
        self._operation_seconds = operation_seconds
        self.clock = clock
        self.lock = threading.RLock()
        self._outage_signal = threading.Event()
        self._outage_lock = threading.Lock()
        self._outage_thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.topology = Topology.from_seed(seed, connection_mode=connection_mode,
                                           scale=scale if isinstance(scale, Scale) else parse_scale(scale))
        limit = parse_write_limit(arm_write_limit)
        self.throttle: ArmWriteThrottle | None = ArmWriteThrottle(limit) if limit is not None else None
        self.faults = FaultRegistry(self.lock, clock)
        self.faults.on_change(around=self._advance_world, after=self._outage_signal.set)
        # The Key Vault's secrets: seeded before or after start, kept across reset() (they are
        # configuration, like the CA, not world state a drill changes).
        self.secrets = SecretStore(clock)
        if connection_mode == "per_server":
            for region, server in self.topology.sql_servers.items():
                self.secrets.set(f"orders-db-{region}", orders_connection_string(server, self.topology.database),
                                 content_type="connection-string")
        # Application Insights request telemetry of the demo apps, served by the Log Analytics query API.
        self.telemetry = RequestTelemetry(clock)
        # Azure Monitor's alerts: the handbook's rules over that telemetry, plus alerts fired by hand.
        self.alerts = AlertBook(self.topology, self.telemetry, self.faults.region_down, clock, alert_rules)
        # Service Health events and Resource Health availability, from the faults (``service_health``).
        self.health = ServiceHealth(self.faults, clock)
        self.world: World | None = None
        self._arm: ArmApi | None = None
        self._sockets: list[Any] = []
        self._servers: dict[str, BackgroundServer | RestartableServer] = {}
        self._probes: HealthProbes | None = None
        self._dns: DnsResponder | None = None
        self._written: list[Path] = []
        self._tmpdir: str | None = None
        self._info: dict[str, Any] | None = None

    # ===================================================================== lifecycle
    def __enter__(self) -> AzureSandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> AzureSandbox:
        if self.world is not None:
            raise RuntimeError("the sandbox is already running")
        self._closing.clear()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._tmpdir = tempfile.mkdtemp(prefix="odin-azure-sandbox-")
        directory = self._state_dir or Path(self._tmpdir)
        directory.mkdir(parents=True, exist_ok=True)
        tls = make_tls(directory)
        self._written.append(tls.ca_cert)
        sockets = {}
        for name in SERVER_NAMES:
            sockets[name] = bind(self.host, self._ports[name])
            self._sockets.append(sockets[name])
        app_endpoints = {r: (self.host, sockets[r].getsockname()[1]) for r in REGIONS}
        world = World(topology=self.topology, clock=self.clock, lock=self.lock, faults=self.faults,
                      app_endpoints=app_endpoints, operation_seconds=self._operation_seconds,
                      seed=self.seed, **self._options)
        self.world = world
        self._dns = DnsResponder(world, self.host)
        world.dns_name_servers = [self._dns.address]  # the zones name it, as Azure's name its name servers
        self._probes = HealthProbes(world, interval=self._options["probe_interval_seconds"],
                                    timeout=self._probe_timeout)
        self._arm = arm = ArmApi(world, self.faults, retry_after=self._lro_retry_after, alerts=self.alerts,
                     throttle=self.throttle, health=self.health)
        edge = EdgeProxy(world, self._probes, seed=self.seed)
        admin = AdminApi(faults=self.faults, info=self.info, operations=self.operations,
                         writes=self.writes, state=self.state, reset=self.reset, secrets=self.secrets,
                         alerts=self.alerts, throttle=self.throttle_stats, health=self.health)
        vault = KeyVaultApi(self.secrets, tenant_id=seeded_uuid(self.seed, "tenant"))
        logs = LogAnalyticsApi(self.telemetry, workspace_id=seeded_uuid(self.seed, "log-analytics-workspace"))
        # Azure Monitor platform metrics (metrics:getBatch) of the regional web apps, from the same telemetry.
        platform = PlatformMetricsApi(self.telemetry, subscription_id=self.topology.subscription_id,
                                      web_apps={r: self.topology.web_app_id(n) for r, n in self.topology.web_apps.items()})
        self._servers = {
            "arm": BackgroundServer(arm.asgi(), sockets["arm"], name="arm",
                                    ssl_context=tls.server_context),
            "frontdoor": BackgroundServer(edge.app, sockets["frontdoor"], name="frontdoor", lifespan="on"),
            "admin": BackgroundServer(admin.app, sockets["admin"], name="admin"),
            "keyvault": BackgroundServer(vault.app, sockets["keyvault"], name="keyvault",
                                         ssl_context=tls.server_context),
            "loganalytics": BackgroundServer(logs.app, sockets["loganalytics"], name="loganalytics",
                                             ssl_context=tls.server_context),
            "metrics": BackgroundServer(platform.app, sockets["metrics"], name="metrics",
                                        ssl_context=tls.server_context),
            **{r: RestartableServer(recorded(RegionApp(world, r, seed=self.seed), self.telemetry, r), sockets[r],
                                    name=f"app-{r}")
               for r in REGIONS},
        }
        for server in self._servers.values():
            server.start()
        self._dns.start()
        self._probes.start()
        self._outage_thread = threading.Thread(target=self._enforce_outages, name="sandbox-outages",
                                               daemon=True)
        self._outage_thread.start()
        self._outage_signal.set()  # faults added before start() apply from the first moment
        port = {name: s.port for name, s in self._servers.items()}
        self._info = {
            "arm_url": f"https://{self.host}:{port['arm']}",
            "ca_cert": str(tls.ca_cert),
            "subscription_id": self.topology.subscription_id,
            "resource_group": self.topology.resource_group,
            "frontdoor_url": f"http://{self.host}:{port['frontdoor']}",
            "admin_url": f"http://{self.host}:{port['admin']}",
            "keyvault_url": f"https://{self.host}:{port['keyvault']}",
            "log_analytics_url": f"https://{self.host}:{port['loganalytics']}",
            "log_analytics_workspace_id": logs.workspace_id,
            # the regional metrics endpoints (Azure: https://{region}.metrics.monitor.azure.com), one port
            "metrics_url": f"https://{self.host}:{port['metrics']}",
            "metrics_endpoints": {r: f"https://{self.host}:{port['metrics']}/{r}" for r in REGIONS},
            "dns_server": self._dns.address,
            "connection_mode": self.topology.connection_mode,
            "regions": {r: f"http://{self.host}:{port[r]}" for r in REGIONS},
            "resources": self._resources(),
            "scaled_resources": self._scaled_resources(),
            "arm_write_limit": self.throttle.limit.text() if self.throttle is not None else None,
        }
        if self._state_dir is not None:
            info_file = self._state_dir / "sandbox.json"
            info_file.write_text(json.dumps(self._info, indent=2) + "\n")
            self._written.append(info_file)

    def _scaled_resources(self) -> dict[str, list[str]]:
        """The ARM ids of a scaled world's generated resources (empty lists in the default world)."""
        t, scale = self.topology, self.topology.scale
        server = t.sql_servers[t.primary_region]
        return {"failover_groups": [t.failover_group_id(server, n) for n in scale.failover_group_names()],
                "storage_accounts": [t.storage_account_id(n) for n in scale.storage_account_names()],
                "frontdoor_origin_groups": [t.origin_group_id(t.frontdoor_profile, n)
                                            for n in scale.origin_group_names()]}

    def arm_requests(self, method: str = "GET", path_contains: str = "", expand: str | None = None) -> int:
        """How many ARM requests of ``method`` whose path contains ``path_contains`` (and, when given,
        whose ``$expand`` is ``expand``) the sandbox has answered: a test proves a thing was read
        once, not twice, by counting (case-insensitive)."""
        if self._arm is None:
            raise RuntimeError("the sandbox is not running")
        return sum(r["count"] for r in self._arm.requests_seen()
                   if r["method"] == method.upper() and path_contains.lower() in r["path"]
                   and (expand is None or r["expand"] == expand.lower()))

    def throttle_stats(self) -> dict[str, Any] | None:
        """The ARM write limit's counts (``ArmWriteThrottle.stats``); None when the sandbox has no limit."""
        return self.throttle.stats() if self.throttle is not None else None

    def _resources(self) -> dict[str, Any]:
        t = self.topology
        return {
            "failover_groups": [t.failover_group_id(t.sql_servers[t.primary_region], t.failover_group)],
            "sql_servers": {r: t.sql_server_id(name) for r, name in t.sql_servers.items()},
            "databases": [t.database_id(t.sql_servers[t.primary_region], t.database)],
            "sql_databases": {r: t.database_id(name, t.database) for r, name in t.sql_servers.items()},
            "storage_accounts": [t.storage_account_id(t.storage_account)],
            "frontdoor_profiles": [t.cdn_profile_id(t.frontdoor_profile)],
            "frontdoor_origin_groups": [t.origin_group_id(t.frontdoor_profile, t.origin_group)],
            "frontdoor_origins": {r: t.origin_id(t.frontdoor_profile, t.origin_group, o)
                                  for r, o in t.origins.items()},
            "frontdoor_endpoints": [t.endpoint_id(t.frontdoor_profile, t.frontdoor_endpoint)],
            "frontdoor_routes": [t.route_id(t.frontdoor_profile, t.frontdoor_endpoint, t.frontdoor_route)],
            "dns_zones": [t.dns_zone_id(t.dns_zone)],
            "app_service_plans": {r: t.app_service_plan_id(name) for r, name in t.app_service_plans.items()},
            "web_apps": {r: t.web_app_id(name) for r, name in t.web_apps.items()},
        }

    def stop(self) -> None:
        """Stop every server and thread the sandbox started; remove the files it wrote."""
        self._closing.set()
        self._outage_signal.set()
        if self._outage_thread is not None:
            self._outage_thread.join(10)
            self._outage_thread = None
        if self._probes is not None:
            self._probes.stop()
            self._probes = None
        if self._dns is not None:
            self._dns.stop()
            self._dns = None
        for server in self._servers.values():
            server.signal_stop()
        for server in self._servers.values():
            server.join()
        self._servers = {}
        for sock in self._sockets:
            sock.close()
        self._sockets = []
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written = []
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        self.world = None
        self._arm = None
        self._info = None

    def _advance_world(self) -> None:
        if self.world is not None:
            self.world.advance()

    def _enforce_outages(self) -> None:
        """Close a region app's listener while its region is out; reopen it after."""
        while not self._closing.is_set():
            self._outage_signal.wait()
            self._outage_signal.clear()
            if self._closing.is_set():
                return
            self._apply_outages()

    def _apply_outages(self) -> None:
        """Make each region app's listener match the faults now. Serialised: a pass that read the
        faults before a reset can never close a listener after the reset's own pass reopened it."""
        with self._outage_lock:
            for region in REGIONS:
                server = self._servers.get(region)
                if isinstance(server, RestartableServer):
                    try:
                        server.set_listening(not self.faults.region_down(region))
                    except Exception as exc:  # noqa: BLE001 - keep enforcing the others
                        print(f"sandbox: could not switch {region} listener: {exc}", file=sys.stderr)

    # ===================================================================== in-process API
    def _running_world(self) -> World:
        if self.world is None:
            raise RuntimeError("the sandbox is not running (use it as a context manager or call start())")
        return self.world

    def info(self) -> dict[str, Any]:
        """URLs, CA, subscription and resource ids — what a client needs to use the sandbox."""
        if self._info is None:
            raise RuntimeError("the sandbox is not running")
        return json.loads(json.dumps(self._info))

    def operations(self) -> list[dict[str, Any]]:
        """Every ARM mutation (time, resource_id, operation, result, …), oldest first."""
        return self._running_world().operations_log()

    def writes(self) -> list[dict[str, Any]]:
        """Every acknowledged write and whether the current primary still holds it."""
        return self._running_world().writes_report()

    def edge_health(self) -> dict[str, Any]:
        """The edge's view of each origin (healthy, recent probe samples)."""
        if self._probes is None:
            raise RuntimeError("the sandbox is not running")
        return self._probes.health()

    def state(self) -> dict[str, Any]:
        return {**self._running_world().snapshot(), "edge": self.edge_health()}

    def reset(self) -> None:
        """The initial world again: faults (and their history), data, operations, edge health."""
        world = self._running_world()
        self.faults.forget()
        world.reset()
        self.telemetry.clear()
        self.alerts.clear()
        self.health.clear()
        if self.throttle is not None:
            self.throttle.reset()
        if self._arm is not None:
            self._arm.forget_requests()
        self._apply_outages()  # every region answers again before reset() returns
        if self._probes is not None:
            self._probes.reset()


    def fire_alert(self, name: str, severity: str = "Sev1", **essentials: Any) -> AlertRecord:
        """Fire an Azure Monitor alert by hand (``alerts.AlertBook.fire``): on the primary region's
        web app unless ``target_resource`` / ``target_resource_group`` say otherwise."""
        return self.alerts.fire(name, severity, **essentials)

    def set_resolution_eta(self, region: str, seconds: float | None) -> None:
        """Azure's expected resolution of ``region``'s outage, ``seconds`` after it started (None: no ETA):
        the ``resolutionETA`` of its resources' availability statuses (``service_health``)."""
        self.health.set_eta(region, seconds)

    def resolve_alert(self, alert: str) -> int:
        """Resolve the fired alert with this id, or every fired alert of the rule with this name."""
        return self.alerts.resolve(alert)


def serve(state_dir: str | Path | None = None, seed: int = 0, *, out: TextIO | None = None,
          **options: Any) -> int:
    """Run the sandbox until SIGINT/SIGTERM: print one JSON line (the info), then serve."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with AzureSandbox(state_dir=state_dir, seed=seed, **options) as sandbox:
            stream = out or sys.stdout
            stream.write(json.dumps(sandbox.info()) + "\n")
            stream.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
