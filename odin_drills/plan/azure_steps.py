"""Azure step kinds: fail over a SQL failover group or a storage account; set Front Door origins;
restore a SQL database to a point in time as a new database (its undo deletes the copy); restore
blob ranges of a storage account to a point in time (its undo restores them to just before); point
an Azure DNS record set (A or CNAME) at new targets (its undo puts the old record set back, or
deletes it when there was none); set an App Service plan's instance count (its undo sets the count
read before); set app settings and connection strings of a web app (its undo puts back exactly
the keys it named, or removes those that did not exist).

Each one reads the real state before acting, leaves what is already right alone, and computes its
own undo from what it read (``undo: auto``, or no ``undo:`` at all); ``undo: none`` with
``undo_reason:`` and an explicit undo step remain possible. A failover that can lose data
(``forced``, ``try-planned``, ``unplanned``) is refused at load time unless the step says
``allow_data_loss: true``.

Resources are named by name (with ``resource_group:``) or by ARM id; the subscription is the
target's unless an ARM id or ``subscription_id:`` says otherwise.

The step unions in ``odin_drills.plan.steps`` include these classes; both build on
``plan.step_base``. Nothing here imports the Azure SDK.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from odin_drills.plan.step_base import _Step
from odin_drills.plan.arm_ids import ArmId, is_arm_id, parse_arm_id, region_name
from odin_drills.plan.durations import Duration
from odin_drills.plan.secrets import has_reference

AZURE_KINDS = ("azure.sql.failover", "azure.storage.failover", "azure.frontdoor.origins", "azure.sql.restore",
               "azure.storage.blob.restore", "azure.dns.records", "azure.appservice.scale",
               "azure.appservice.settings")
DATA_LOSS_MODES = {"forced", "try-planned", "unplanned"}


def _arm_id(value: str, field: str, namespace: str, *types: str) -> ArmId | None:
    """The parsed id when ``value`` is an ARM id of the expected type; None for a plain name."""
    if not is_arm_id(value):
        if "/" in value:
            raise ValueError(f"{field}: {value!r} is neither a name nor an ARM id")
        return None
    parsed = parse_arm_id(value)
    if not parsed.is_a(namespace, *types):
        raise ValueError(f"{field}: {value!r} is not a {namespace}/{'/'.join(types)} id")
    return parsed


class AzureRef(BaseModel):
    """Where a step's resource lives, names resolved from names or ARM ids."""

    subscription_id: str | None  # None: the target's
    resource_group: str


class _AzureStep(_Step):
    """Shared fields and rules of the Azure kinds."""

    resource_group: str | None = Field(default=None, description="needed unless the resource is given as an ARM id")
    subscription_id: str | None = Field(default=None, description="default: the plan target's subscription")
    timeout: Duration = Field(default=900.0, description="bound on the whole step, retries and waiting included")

    auto_undo: ClassVar[bool] = True

    @property
    def changes_world(self) -> bool:
        return True

    @field_validator("allow_data_loss", check_fields=False)
    @classmethod
    def _data_loss_opt_in(cls, value: bool, info: ValidationInfo) -> bool:
        """Declared after ``mode`` in each failover kind, so the refusal names this field."""
        mode = info.data.get("mode")
        if mode in DATA_LOSS_MODES and not value:
            raise ValueError(
                f"mode {mode!r} may lose writes that were not yet replicated: "
                "set allow_data_loss: true to opt in (or use mode: planned)")
        return value

    def _scope(self, *ids: ArmId | None) -> AzureRef:
        """Subscription and resource group from the ARM ids given, checked against the fields."""
        subs = {i.subscription_id.lower() for i in ids if i is not None}
        groups = {i.resource_group.lower() for i in ids if i is not None}
        if self.subscription_id:
            subs.add(self.subscription_id.lower())
        if self.resource_group:
            groups.add(self.resource_group.lower())
        if len(subs) > 1:
            raise ValueError("subscription_id: the ARM ids and subscription_id name different subscriptions")
        if len(groups) > 1:
            raise ValueError("resource_group: the ARM ids and resource_group name different resource groups")
        if not groups:
            raise ValueError("resource_group: required unless the resource is given as an ARM id")
        first = next((i for i in ids if i is not None), None)
        return AzureRef(
            subscription_id=self.subscription_id or (first.subscription_id if first else None),
            resource_group=self.resource_group or (first.resource_group if first else ""),
        )


# --------------------------------------------------------------------------- SQL failover group
class SqlFailoverRef(AzureRef):
    failover_group: str
    to_server: str


class SqlFailoverStep(_AzureStep):
    """Make ``to_server`` the primary of a failover group (POSTed to that server, as Azure wants)."""

    kind: Literal["azure.sql.failover"]
    failover_group: str = Field(min_length=1, description="name, or ARM id …/servers/{server}/failoverGroups/{name}")
    to_server: str = Field(min_length=1, description="the server to become primary: name or ARM id")
    mode: Literal["planned", "forced", "try-planned"] = Field(
        default="planned",
        description="planned: no data loss, needs both regions; forced: now, loses unreplicated writes; "
                    "try-planned: planned if possible, else forced")
    allow_data_loss: bool = Field(default=False, validate_default=True,
                                  description="required for forced and try-planned")

    @model_validator(mode="after")
    def _names(self) -> "SqlFailoverStep":
        self.ref()
        return self

    def ref(self) -> SqlFailoverRef:
        fg = _arm_id(self.failover_group, "failover_group", "Microsoft.Sql", "servers", "failoverGroups")
        server = _arm_id(self.to_server, "to_server", "Microsoft.Sql", "servers")
        scope = self._scope(fg, server)
        return SqlFailoverRef(**scope.model_dump(), failover_group=fg.name if fg else self.failover_group,
                              to_server=server.name if server else self.to_server)


# --------------------------------------------------------------------------- storage account
class StorageFailoverRef(AzureRef):
    account: str


class StorageFailoverStep(_AzureStep):
    """Make ``to_region`` the primary region of a geo-redundant storage account."""

    kind: Literal["azure.storage.failover"]
    account: str = Field(min_length=1, description="storage account name or ARM id")
    to_region: str = Field(min_length=1, description="the region to become primary, e.g. westus")
    mode: Literal["planned", "unplanned"] = Field(
        default="planned",
        description="planned: both regions up, nothing lost, stays geo-redundant; unplanned: the secondary "
                    "takes over as it is, writes after lastSyncTime are lost, the account becomes LRS")
    allow_data_loss: bool = Field(default=False, validate_default=True, description="required for unplanned")
    timeout: Duration = Field(default=7200.0, description="storage failovers usually take under an hour")

    @field_validator("to_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return region_name(value)

    @model_validator(mode="after")
    def _names(self) -> "StorageFailoverStep":
        self.ref()
        return self

    def ref(self) -> StorageFailoverRef:
        account = _arm_id(self.account, "account", "Microsoft.Storage", "storageAccounts")
        scope = self._scope(account)
        return StorageFailoverRef(**scope.model_dump(), account=account.name if account else self.account)


# --------------------------------------------------------------------------- Front Door origins
class OriginSettings(BaseModel):
    """What an origin should be; fields left out are left as they are."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    priority: int | None = Field(default=None, ge=1, le=5, description="lower is preferred")
    weight: int | None = Field(default=None, ge=1, le=1000, description="share within the same priority")

    @model_validator(mode="after")
    def _something(self) -> "OriginSettings":
        if self.enabled is None and self.priority is None and self.weight is None:
            raise ValueError("say at least one of enabled, priority, weight")
        return self


class FrontDoorRef(AzureRef):
    profile: str
    origin_group: str


class FrontDoorOriginsStep(_AzureStep):
    """Set enabled state, priority and weight of named origins of a Front Door origin group.

    With ``stages: N`` weights move from their current to their wanted values in N equal steps,
    ``stage_interval`` (plan time) apart; origins are enabled in the first stage and disabled in
    the last, so traffic always has somewhere to go.
    """

    kind: Literal["azure.frontdoor.origins"]
    profile: str | None = Field(default=None, description="Front Door profile name or ARM id")
    origin_group: str = Field(min_length=1, description="origin group name, or its ARM id")
    origins: dict[str, OriginSettings] = Field(min_length=1, description="origin name → wanted settings")
    stages: int = Field(default=1, ge=1, le=20, description="shift weights gradually in this many stages")
    stage_interval: Duration = Field(default=0.0, description="plan time between two stages")
    timeout: Duration = Field(default=900.0, description="bound on each stage, retries and waiting included")

    @model_validator(mode="after")
    def _names(self) -> "FrontDoorOriginsStep":
        self.ref()
        if self.stages > 1 and not any(o.weight is not None for o in self.origins.values()):
            raise ValueError("stages: a staged shift needs a weight on at least one origin")
        return self

    def ref(self) -> FrontDoorRef:
        group = _arm_id(self.origin_group, "origin_group", "Microsoft.Cdn", "profiles", "originGroups")
        profile = _arm_id(self.profile, "profile", "Microsoft.Cdn", "profiles") if self.profile else None
        if group is None and profile is None and not self.profile:
            raise ValueError("profile: required unless origin_group is an ARM id")
        names = {n.lower() for n in (group.name_of("profiles") if group else None,
                                     profile.name if profile else (self.profile or None)) if n}
        if len(names) > 1:
            raise ValueError("profile: the profile and the origin group's ARM id name different profiles")
        scope = self._scope(group, profile)
        profile_name = (group.name_of("profiles") if group else None) or (profile.name if profile else self.profile)
        return FrontDoorRef(**scope.model_dump(), profile=profile_name or "",
                            origin_group=group.name if group else self.origin_group)


# --------------------------------------------------------------------------- SQL point-in-time restore
class SqlRestoreRef(AzureRef):
    server: str
    source_database: str
    database: str


class SqlRestoreStep(_AzureStep):
    """Restore a database to a point in time as a *new* database on the same server
    (``createMode: PointInTimeRestore``). Nothing existing changes; the undo deletes the copy, and
    only a copy carrying the tags this step put on it (``azure.sql.database.delete`` with
    ``require_tags``), so an undo can never delete a database odin did not create."""

    kind: Literal["azure.sql.restore"]
    source_database: str = Field(min_length=1, description="name (with server:), or ARM id …/servers/{server}/databases/{db}")
    server: str | None = Field(default=None, description="the source's server (name or ARM id) unless source_database is an ARM id")
    database: str = Field(min_length=1, max_length=128, pattern=r"^[^/\\<>*%&:?]+$",
                          description="the new database's name: it must not exist yet")
    restore_point: datetime = Field(description="the point in time to restore to (ISO 8601, with a time zone)")
    tags: dict[str, str] = Field(default_factory=dict, description="put on the new database; its undo checks them")
    timeout: Duration = Field(default=4 * 3600.0, description="a restore takes time proportional to the database's size")

    @field_validator("restore_point")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("restore_point needs a time zone (e.g. 2026-04-01T06:00:00Z)")
        return value

    @model_validator(mode="after")
    def _names(self) -> "SqlRestoreStep":
        self.ref()
        return self

    def ref(self) -> SqlRestoreRef:
        source = _arm_id(self.source_database, "source_database", "Microsoft.Sql", "servers", "databases")
        server = _arm_id(self.server, "server", "Microsoft.Sql", "servers") if self.server else None
        server_name = (source.name_of("servers") if source else None) or (server.name if server else self.server)
        if not server_name:
            raise ValueError("server: required unless source_database is an ARM id")
        if server is not None or (self.server and source is not None):
            given = server.name if server else self.server
            if given and given.lower() != server_name.lower():
                raise ValueError("server: the source database's ARM id names another server")
        scope = self._scope(source, server)
        return SqlRestoreRef(**scope.model_dump(), server=server_name,
                             source_database=source.name if source else self.source_database, database=self.database)


class SqlDatabaseDeleteRef(AzureRef):
    server: str
    database: str


class SqlDatabaseDeleteUndo(_AzureStep):
    """The undo of ``azure.sql.restore``: delete the restored copy — only if it carries
    ``require_tags`` (it is the copy the restore made); already gone is done."""

    kind: Literal["azure.sql.database.delete"]
    server: str = Field(min_length=1, description="server name or ARM id")
    database: str = Field(min_length=1)
    require_tags: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = Field(default=3600.0)

    is_undo: ClassVar[bool] = True

    @model_validator(mode="after")
    def _names(self) -> "SqlDatabaseDeleteUndo":
        self.ref()
        return self

    def ref(self) -> SqlDatabaseDeleteRef:
        server = _arm_id(self.server, "server", "Microsoft.Sql", "servers")
        scope = self._scope(server)
        return SqlDatabaseDeleteRef(**scope.model_dump(), server=server.name if server else self.server,
                                    database=self.database)


# --------------------------------------------------------------------------- blob point-in-time restore
class BlobRange(BaseModel):
    """``[start, end)`` over ``container/blob`` names (what Azure's ``blobRanges`` hold)."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(min_length=1, description="inclusive, e.g. canary/drill-1/")
    end: str = Field(min_length=1, description="exclusive, e.g. canary/drill-10 (the prefix with its last character + 1)")

    @model_validator(mode="after")
    def _ordered(self) -> "BlobRange":
        if self.start >= self.end:
            raise ValueError(f"start {self.start!r} must sort before end {self.end!r}")
        return self

    @classmethod
    def of_prefix(cls, prefix: str) -> "BlobRange":
        """Every blob whose name starts with ``prefix``: ``[prefix, prefix with its last character + 1)``."""
        return cls(start=prefix, end=prefix[:-1] + chr(ord(prefix[-1]) + 1))


class BlobRestoreRef(AzureRef):
    account: str


class BlobRestoreStep(_AzureStep):
    """Restore blob ranges of a storage account to a point in time, *in place*
    (``storage_accounts.begin_restore_blob_ranges``). Both ends of every range must be given, so a
    step can never restore a whole account by leaving them empty. The undo is the same restore to
    the moment just before this one was requested, which puts the ranges back as they were."""

    kind: Literal["azure.storage.blob.restore"]
    account: str = Field(min_length=1, description="storage account name or ARM id")
    ranges: list[BlobRange] = Field(min_length=1, max_length=10, description="the blob ranges to restore")
    restore_point: datetime = Field(description="the point in time to restore to (ISO 8601, with a time zone)")
    timeout: Duration = Field(default=4 * 3600.0, description="a blob restore takes time proportional to the changes")

    @field_validator("restore_point")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return SqlRestoreStep._aware(value)

    @model_validator(mode="after")
    def _names(self) -> "BlobRestoreStep":
        self.ref()
        return self

    def ref(self) -> BlobRestoreRef:
        account = _arm_id(self.account, "account", "Microsoft.Storage", "storageAccounts")
        scope = self._scope(account)
        return BlobRestoreRef(**scope.model_dump(), account=account.name if account else self.account)


# --------------------------------------------------------------------------- Azure DNS record sets
_DNS_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_RECORD_SET = re.compile(rf"^(@|\*|(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*)$")
_HOST_NAME = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*\.?$")


class DnsRecordsRef(AzureRef):
    zone: str
    record_set: str
    type: Literal["A", "CNAME"]


class DnsRecordsStep(_AzureStep):
    """Point an A or CNAME record set of an Azure DNS zone at new targets
    (``record_sets.create_or_update``), then wait until the zone's name servers answer with them.

    Why wait on DNS and not on ARM: the PUT returns as soon as Azure stored the record set, but
    clients follow what the name servers answer. The step asks them until they answer the new
    targets or ``max(2 × ttl, 30 s)`` (at most 10 minutes) of plan time has passed. The undo puts back the record set
    read before (targets and TTL), or deletes it when there was none (``delete: true``)."""

    kind: Literal["azure.dns.records"]
    zone: str = Field(min_length=1, description="DNS zone name (e.g. odin-demo.example) or ARM id "
                                               "…/providers/Microsoft.Network/dnsZones/{zone}")
    record_set: str = Field(min_length=1, max_length=253,
                            description="the name relative to the zone, e.g. app ('@' for the apex)")
    type: Literal["A", "CNAME"] = Field(description="A: IPv4 addresses; CNAME: one host name")
    targets: list[str] = Field(default_factory=list, max_length=20,
                               description="A: IPv4 addresses; CNAME: exactly one host name")
    ttl: int = Field(default=60, ge=1, le=86400, description="seconds resolvers may cache the answer")
    delete: bool = Field(default=False, description="remove the record set instead (no targets); what undos use "
                                                    "when the record set did not exist before")
    timeout: Duration = Field(default=300.0, description="bound on the ARM calls, retries included "
                                                          "(the propagation wait has its own deadline)")

    @field_validator("record_set")
    @classmethod
    def _record_set(cls, value: str) -> str:
        if not _RECORD_SET.match(value):
            raise ValueError(f"{value!r} is not a relative DNS name (labels of letters, digits, '-', '_'; "
                             "'@' for the zone apex; no trailing dot)")
        return value

    @model_validator(mode="after")
    def _targets(self) -> "DnsRecordsStep":
        if self.delete:
            if self.targets:
                raise ValueError("targets: a record set with delete: true takes no targets")
        elif not self.targets:
            raise ValueError(f"targets: {'an A' if self.type == 'A' else 'a CNAME'} record set needs "
                             f"{'at least one IPv4 address' if self.type == 'A' else 'one host name'}")
        elif self.type == "A":
            addresses = []
            for target in self.targets:
                try:
                    addresses.append(str(ipaddress.IPv4Address(target.strip())))
                except ValueError:
                    raise ValueError(f"targets: {target!r} is not an IPv4 address") from None
            if len(set(addresses)) != len(addresses):
                raise ValueError("targets: an address is listed twice")
            self.targets = addresses
        else:
            if len(self.targets) != 1:
                raise ValueError(f"targets: a CNAME record set has exactly one host name, not {len(self.targets)}")
            host = self.targets[0].strip()
            if not _HOST_NAME.match(host) or len(host.rstrip(".")) > 253:
                raise ValueError(f"targets: {self.targets[0]!r} is not a host name")
            self.targets = [host.rstrip(".").lower()]
        self.ref()
        return self

    def ref(self) -> DnsRecordsRef:
        zone = _arm_id(self.zone, "zone", "Microsoft.Network", "dnsZones")
        scope = self._scope(zone)
        return DnsRecordsRef(**scope.model_dump(), zone=(zone.name if zone else self.zone).rstrip(".").lower(),
                             record_set=self.record_set, type=self.type)


# --------------------------------------------------------------------------- App Service
class AppServicePlanRef(AzureRef):
    plan: str


class AppServiceScaleStep(_AzureStep):
    """Set an App Service plan's instance count (``sku.capacity``): the runbook's "scale up the DR
    region's App Services (if scaled down for cost)". The undo sets the count read before."""

    kind: Literal["azure.appservice.scale"]
    plan: str = Field(min_length=1, description="App Service plan name or ARM id …/Microsoft.Web/serverfarms/{plan}")
    capacity: int = Field(ge=1, le=100,
                          description="instances the plan should run (Azure's ceiling depends on the tier)")
    timeout: Duration = Field(default=900.0, description="bound on the whole step, retries and waiting included")

    @model_validator(mode="after")
    def _names(self) -> "AppServiceScaleStep":
        self.ref()
        return self

    def ref(self) -> AppServicePlanRef:
        plan = _arm_id(self.plan, "plan", "Microsoft.Web", "serverfarms")
        scope = self._scope(plan)
        return AppServicePlanRef(**scope.model_dump(), plan=plan.name if plan else self.plan)


_SETTING_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")


def _setting_names(names: Any, field: str) -> None:
    for name in names:
        if not _SETTING_NAME.match(name):
            raise ValueError(f"{field}: {name!r} is not a setting name (letters, digits, '_', '.', ':', '-'; "
                             "at most 128)")


class ConnectionStringSetting(BaseModel):
    """A connection string's value and type. The value is a secret: it must come from a reference
    (``${secret:NAME}``, ``${env:NAME}``, ``${file:PATH}``), resolved at the call and never journaled."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, description="holds ${secret:NAME} (or ${env:}/${file:}), resolved at the call")
    type: Literal["MySql", "SQLServer", "SQLAzure", "Custom", "NotificationHub", "ServiceBus", "EventHub",
                  "ApiHub", "DocDb", "RedisCache", "PostgreSQL"] = Field(
        default="Custom", description="Azure's ConnectionStringType (azure-mgmt-web 11.0.1)")

    @field_validator("value")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not has_reference(value):
            raise ValueError("a connection string is a secret: write it as ${secret:NAME} (or ${env:NAME} / "
                             "${file:PATH}) so its value is resolved at the call and never journaled")
        return value


class WebAppRef(AzureRef):
    app: str


class AppServiceSettingsStep(_AzureStep):
    """Set (or remove) named app settings and connection strings of a web app: "update connection
    strings to the secondary region", "update application configuration".

    Only the named keys change; every other setting is left as it is (Azure's API replaces the
    whole set, so the step reads it, merges, and writes it back). The undo puts back exactly the
    named keys as they were, or removes those that did not exist. Values are never journaled: the
    journal holds key names and ``(secret)`` for connection strings, for settings given by reference
    and for settings whose names say secret; so the undo of a step that replaces such a value which
    already existed must be declared (``undo:`` with references), and the step refuses to act
    without one."""

    kind: Literal["azure.appservice.settings"]
    app: str = Field(min_length=1, description="web app name or ARM id …/Microsoft.Web/sites/{app}")
    app_settings: dict[str, str] = Field(default_factory=dict, max_length=100,
                                         description="name → value (may hold ${secret:NAME}, resolved at the call)")
    connection_strings: dict[str, ConnectionStringSetting] = Field(default_factory=dict, max_length=50,
                                                                   description="name → {value, type}")
    remove_app_settings: list[str] = Field(default_factory=list, max_length=100,
                                           description="app settings to delete (what undos use for new keys)")
    remove_connection_strings: list[str] = Field(default_factory=list, max_length=50,
                                                 description="connection strings to delete")
    timeout: Duration = Field(default=300.0, description="bound on the ARM calls, retries included")

    @model_validator(mode="after")
    def _keys(self) -> "AppServiceSettingsStep":
        if not (self.app_settings or self.connection_strings or self.remove_app_settings
                or self.remove_connection_strings):
            raise ValueError("app_settings: say at least one of app_settings, connection_strings "
                             "(or remove_app_settings, remove_connection_strings)")
        _setting_names(self.app_settings, "app_settings")
        _setting_names(self.remove_app_settings, "remove_app_settings")
        _setting_names(self.connection_strings, "connection_strings")
        _setting_names(self.remove_connection_strings, "remove_connection_strings")
        for field, sets, removes in (("remove_app_settings", self.app_settings, self.remove_app_settings),
                                     ("remove_connection_strings", self.connection_strings,
                                      self.remove_connection_strings)):
            lowered = [n.lower() for n in removes]
            if len(set(lowered)) != len(lowered):
                raise ValueError(f"{field}: a name is listed twice")
            both = sorted(n for n in removes if n.lower() in {k.lower() for k in sets})
            if both:
                raise ValueError(f"{field}: {both[0]!r} is both set and removed")
        for field, names in (("app_settings", list(self.app_settings)),
                             ("connection_strings", list(self.connection_strings))):
            if len({n.lower() for n in names}) != len(names):
                raise ValueError(f"{field}: two names differ only in case (Azure's names are case-insensitive)")
        self.ref()
        return self

    def ref(self) -> WebAppRef:
        app = _arm_id(self.app, "app", "Microsoft.Web", "sites")
        scope = self._scope(app)
        return WebAppRef(**scope.model_dump(), app=app.name if app else self.app)


# --------------------------------------------------------------------------- their undo forms
class SqlFailoverUndo(SqlFailoverStep):
    is_undo: ClassVar[bool] = True


class StorageFailoverUndo(StorageFailoverStep):
    is_undo: ClassVar[bool] = True


class FrontDoorOriginsUndo(FrontDoorOriginsStep):
    is_undo: ClassVar[bool] = True


class SqlRestoreUndo(SqlRestoreStep):
    is_undo: ClassVar[bool] = True


class BlobRestoreUndo(BlobRestoreStep):
    is_undo: ClassVar[bool] = True


class DnsRecordsUndo(DnsRecordsStep):
    is_undo: ClassVar[bool] = True


class AppServiceScaleUndo(AppServiceScaleStep):
    is_undo: ClassVar[bool] = True


class AppServiceSettingsUndo(AppServiceSettingsStep):
    is_undo: ClassVar[bool] = True


AZURE_STEPS = (SqlFailoverStep, StorageFailoverStep, FrontDoorOriginsStep, SqlRestoreStep, SqlDatabaseDeleteUndo,
               BlobRestoreStep, DnsRecordsStep, AppServiceScaleStep, AppServiceSettingsStep)
AZURE_UNDOS = (SqlFailoverUndo, StorageFailoverUndo, FrontDoorOriginsUndo, SqlRestoreUndo, SqlDatabaseDeleteUndo,
               BlobRestoreUndo, DnsRecordsUndo, AppServiceScaleUndo, AppServiceSettingsUndo)


def is_azure_step(step: object) -> bool:
    return isinstance(step, AZURE_STEPS)
