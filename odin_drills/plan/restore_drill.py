"""Restore drill files (``kind: restore``): "data restore tested, not just backup verified".

A restore drill writes canary rows through the service, restores the database to a point in time
as a *new* database (Azure SQL point-in-time restore), reads the canary rows back from the copy,
and scores the restore: **RTO** (the request to the copy online) and **RPO** (the span of canary
writes committed by the requested point that the copy does not hold) against the plan's targets —
the handbook's Azure SQL row, RTO 30 min and RPO 5 s, by default. The copy is deleted at the end
(journaled before it is made, so a crash never orphans it: ``odin rollback`` deletes it).

With ``blob_restore:`` the storage account is drilled too: canary blobs, the drill's blob range
restored in place to a point, read back, scored against its own targets (the handbook's storage
row, RTO 4 h and RPO 15 min), and restored back afterwards (write-ahead, like the copy's delete).

Durations are plan time; the canary's rate and HTTP timeouts are wall-clock, as in region drills.
Against the sandbox, ``restore.source_database`` and ``endpoints.service`` may be left out: the
sandbox's orders database (on its failover group's primary) and its Front Door are used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from odin_drills.plan.durations import Duration
from odin_drills.plan.loader import parse_model, read_yaml
from odin_drills.plan.models import AzureTarget, SandboxTarget

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DRILL_KINDS = ("region-failover", "restore")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be a path starting with '/'")
    return value


class RestoreEndpoints(_Section):
    service: HttpUrl | None = Field(default=None, description="where canary rows are written and read back "
                                    "(the service's base URL); sandbox: its Front Door, filled at run time")


class RestoreSpec(_Section):
    """What is restored, to when, and what the copy is called."""

    source_database: str | None = Field(
        default=None, description="ARM id …/servers/{server}/databases/{db} of the database to restore; "
        "sandbox: default its orders database on the failover group's primary")
    restored_name: str = Field(
        default="{database}-restore-{drill}", min_length=1, max_length=128,
        description="the new database's name; {database} and {drill} (the drill id) are filled in")
    point_before_request: Duration = Field(
        default=0.0, description="restore to this long before the request (plan time); 0: the latest point, "
        "the moment of the request, as after a disaster")
    warm_up: Duration = Field(default=60.0, gt=0, description="plan time of canary writes before the restore "
                              "is requested (there must be rows on both sides of the point)")
    timeout: Duration = Field(default=4 * 3600.0, gt=0, description="plan time the restore may take before the "
                              "drill gives up (the copy is still deleted)")

    @field_validator("source_database")
    @classmethod
    def _is_database(cls, value: str | None) -> str | None:
        if value is not None and (not value.lower().startswith("/subscriptions/")
                                  or "/providers/microsoft.sql/servers/" not in value.lower()
                                  or "/databases/" not in value.lower()):
            raise ValueError(f"{value!r} is not an ARM id of a SQL database "
                             "(/subscriptions/…/providers/Microsoft.Sql/servers/SERVER/databases/NAME)")
        return value

    @field_validator("restored_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if re.search(r"[/\\<>*%&:?]", value.replace("{database}", "").replace("{drill}", "")):
            raise ValueError(f"{value!r}: a database name cannot hold / \\ < > * % & : ?")
        unknown = set(re.findall(r"\{([^}]*)\}", value)) - {"database", "drill"}
        if unknown:
            raise ValueError(f"{value!r}: only {{database}} and {{drill}} are filled in (not {sorted(unknown)})")
        return value


class RestoreCanary(_Section):
    """Canary rows with known commit times, written before the restore and read back from the copy."""

    path: str = Field(default="/api/orders", description="POST target for a write (on endpoints.service); its "
                      "answer's `acknowledged_at` (ISO 8601) is the commit time that puts a row on one side of the "
                      "restore point (without it, the time the answer arrived)")
    read_path: str = Field(
        default="/api/sql/{server}/databases/{database}/orders/{id}",
        description="GET to read one row back from a named database; {server}, {database}, {id} are filled in")
    list_path: str | None = Field(
        default="/api/sql/{server}/databases/{database}/orders",
        description="GET listing the ids a named database holds ({\"ids\": [...]}), to find rows the copy should "
        "not have; null: not checked")
    read_field: str | None = Field(default="order", description="where a read answer holds the payload (null: the body)")
    rate_per_second: float = Field(default=5.0, gt=0, le=200, description="writes per wall second")
    payload_bytes: int = Field(default=64, ge=8, le=65536)
    timeout: Duration = Field(default=2.0, gt=0, description="per request, wall seconds")

    _starts_with_slash = field_validator("path", "read_path")(_path)

    @field_validator("read_path")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        for name in ("{database}", "{id}"):
            if name not in value:
                raise ValueError(f"read_path must contain {name}, e.g. /api/sql/{{server}}/databases/{{database}}/orders/{{id}}")
        return value


class RestoreTargets(_Section):
    """What the restore is scored against (the handbook's Azure SQL row by default)."""

    rto: Duration = Field(default=1800.0, description="the restore request -> the restored database online")
    rpo: Duration = Field(default=5.0, description="the span of writes committed by the requested point and missing")


class BlobRestoreSpec(_Section):
    """The storage store: canary blobs under a prefix of the drill's own, restored in place to a
    point (Azure's blob point-in-time restore) and read back. Azure restores blob ranges *in place*,
    so only the drill's prefix (``{container}/{prefix}{drill}/``) is restored, never anyone else's
    blobs; the undo restores that range to the moment before the restore, as it was."""

    account: str | None = Field(
        default=None, description="ARM id …/providers/Microsoft.Storage/storageAccounts/{name}, with blob "
        "versioning, change feed and a restore policy on; sandbox: default its storage account")
    container: str = Field(default="odin-canary", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$",
                           description="the container the canary blobs are written to (3-63 lower-case letters, "
                           "digits, dashes)")
    write_path: str = Field(default="/api/blobs/{name}", description="PUT a blob (on endpoints.service), GET reads it "
                            "back; {name} is its `container/blob` name in the account; the answer's `acknowledged_at` is "
                            "its commit time")
    point_before_request: Duration = Field(
        default=5.0, ge=0, description="restore to this long before the request (plan time); blobs acknowledged "
        "after the point must be gone after the restore")
    rate_per_second: float = Field(default=5.0, gt=0, le=200, description="blob writes per wall second")
    timeout: Duration = Field(default=4 * 3600.0, gt=0, description="plan time the blob restore may take")
    targets: RestoreTargets = Field(
        default_factory=lambda: RestoreTargets(rto=4 * 3600.0, rpo=900.0),
        description="default the handbook's storage row (critical data): RTO 4 h, RPO 15 min")

    @field_validator("write_path")
    @classmethod
    def _has_name(cls, value: str) -> str:
        _path(value)
        if "{name}" not in value:
            raise ValueError("write_path must contain {name}, e.g. /api/blobs/{name}")
        return value

    @field_validator("account")
    @classmethod
    def _is_account(cls, value: str | None) -> str | None:
        if value is not None and (not value.lower().startswith("/subscriptions/")
                                  or "/providers/microsoft.storage/storageaccounts/" not in value.lower()):
            raise ValueError(f"{value!r} is not an ARM id of a storage account "
                             "(/subscriptions/…/providers/Microsoft.Storage/storageAccounts/NAME)")
        return value


class RestoreDrillPlan(BaseModel):
    """One restore drill: restore, verify against the canary, score, delete the copy."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="lower-case letters, digits and dashes; names the drill's history")
    description: str = ""
    environment: str = Field(description="lock name: two runs on one environment never overlap")
    kind: Literal["restore"]
    target: SandboxTarget | AzureTarget = Field(default_factory=SandboxTarget, discriminator="kind")
    endpoints: RestoreEndpoints = Field(default_factory=RestoreEndpoints)
    restore: RestoreSpec = Field(default_factory=RestoreSpec)
    canary: RestoreCanary = Field(default_factory=RestoreCanary)
    targets: RestoreTargets = Field(default_factory=RestoreTargets)
    blob_restore: BlobRestoreSpec | None = Field(
        default=None, description="also restore the storage account's blobs to a point (left out: SQL only)")

    @field_validator("name", "environment")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and dashes (max 63)")
        return value

    @model_validator(mode="after")
    def _azure_needs_names(self) -> RestoreDrillPlan:
        if isinstance(self.target, AzureTarget):
            missing = [f for f, v in (("endpoints.service", self.endpoints.service),
                                      ("restore.source_database", self.restore.source_database)) if v is None]
            if self.blob_restore is not None and self.blob_restore.account is None:
                missing.append("blob_restore.account")
            if missing:
                raise ValueError(f"an Azure target needs {', '.join(missing)}")
        return self

    @property
    def production(self) -> bool:
        return bool(getattr(self.target, "production", False))


def parse_restore_drill(data: Any, source: str = "<drill>", environ: dict[str, str] | None = None) -> RestoreDrillPlan:
    return parse_model(data, RestoreDrillPlan, source, "a restore drill must be a YAML mapping with name, environment, "
                       "kind: restore", environ)


def load_restore_drill(path: str | Path, environ: dict[str, str] | None = None) -> RestoreDrillPlan:
    """Load and validate a restore drill file; raises ``PlanInvalid`` with one line per problem."""
    file, data = read_yaml(path, "drill")
    return parse_restore_drill(data, str(file), environ)


def drill_kind(path: str | Path) -> str | None:
    """The ``kind`` a drill file declares (``restore``, ``region-failover``), None when it names none
    or is not a mapping. Raises ``PlanInvalid`` (naming the file) when it is not readable YAML."""
    _, data = read_yaml(path, "drill")
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None
