"""Where a drill runs: the sandbox (reused, or started in-process), the plan's resources resolved
against it, and the read-only questions the runbook asks Azure.

    sandbox_for(plan, folder, lag)        a running sandbox (ODIN_SANDBOX_INFO) or one started for
                                          the drill and stopped at its end; None for Azure
    drill_problems(plan, source)          what load_drill accepts but the runbook cannot run
    sandbox_resources(plan, info)         the plan's resources, or the sandbox's when it names none
    partner_server(group id, target, r)   the failover group's server in region r (to become primary)
    read_replication(steps, target)       who is primary and how replication stands, as ARM says now
    replication_evidence(outcomes, now)   what the APIs reported around the failover, for the scorecard

Nothing here changes Azure: the world-changing actions are ``odin_drills.steps.actions.run_action``'s.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from odin_drills.errors import UsageError
from odin_drills.plan.drill import DrillPlan, FailoverGroupSpec, FrontDoorSpec, Resources
from odin_drills.plan.models import AzureTarget, SandboxTarget
from odin_drills.steps.dr import ReplicationEvidence

SANDBOX_INFO_ENV = "ODIN_SANDBOX_INFO"


# ================================================================== the sandbox a drill runs against

class SandboxLink:
    """The Azure sandbox of a drill: one already running (``ODIN_SANDBOX_INFO``), or one the drill
    started in-process (``owned``) and stops at the end. Faults go through its admin API either way."""

    def __init__(self, info: dict[str, Any], owned: Any = None) -> None:
        self.info = info
        self.owned = owned
        self._http = httpx.Client(timeout=10.0)

    @property
    def admin_url(self) -> str:
        return str(self.info["admin_url"]).rstrip("/")

    def add_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(f"{self.admin_url}/faults", json=body)
        response.raise_for_status()
        return response.json()

    def remove_fault(self, fault_id: str) -> bool:
        return self._http.delete(f"{self.admin_url}/faults/{fault_id}").status_code == 204

    def fault(self, fault_id: str) -> dict[str, Any] | None:
        faults = self._http.get(f"{self.admin_url}/faults", params={"include": "cleared"}).json()
        return next((f for f in faults if f.get("id") == fault_id), None)

    def close(self) -> None:
        self._http.close()


def running_sandbox() -> dict[str, Any] | None:
    """The info of the sandbox ``ODIN_SANDBOX_INFO`` names, if it answers."""
    path = os.environ.get(SANDBOX_INFO_ENV, "").strip()
    if not path:
        return None
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        if httpx.get(f"{str(info['admin_url']).rstrip('/')}/health", timeout=2.0).status_code == 200:
            return info
    except (OSError, ValueError, KeyError, TypeError, httpx.HTTPError):
        pass
    return None


def sandbox_lag(time_scale: float, wanted: float | None = None) -> float:
    """Wall seconds of replication lag for a sandbox the drill starts: ``wanted``, or 5 s of plan
    time kept within 0.5–2 wall seconds, so a forced failover loses a few canary writes at any scale."""
    if wanted is not None:
        return wanted
    return max(0.5, min(2.0, 5.0 / time_scale))


@contextlib.contextmanager
def sandbox_for(plan: DrillPlan, folder: Path, replication_lag_seconds: float) -> Iterator[SandboxLink | None]:
    """The sandbox for a ``kind: sandbox`` plan (None for Azure): reuse a running one, or start
    one in-process under ``folder/sandbox`` with ``ODIN_SANDBOX_INFO`` pointing at it until the end."""
    if not isinstance(plan.target, SandboxTarget):
        yield None
        return
    info = running_sandbox()
    if info is not None:
        link = SandboxLink(info)
        try:
            yield link
        finally:
            link.close()
        return
    from odin_drills.sandbox.azure import AzureSandbox

    state_dir = folder / "sandbox"
    sandbox = AzureSandbox(state_dir=state_dir, replication_lag_seconds=replication_lag_seconds,
                           lro_retry_after=0, probe_interval_seconds=0.25, probe_timeout_seconds=0.5)
    sandbox.start()
    saved = os.environ.get(SANDBOX_INFO_ENV)
    os.environ[SANDBOX_INFO_ENV] = str(state_dir / "sandbox.json")
    link = SandboxLink(sandbox.info(), owned=sandbox)
    try:
        yield link
    finally:
        link.close()
        if saved is None:
            os.environ.pop(SANDBOX_INFO_ENV, None)
        else:
            os.environ[SANDBOX_INFO_ENV] = saved
        sandbox.stop()


# ================================================================== the plan, checked and resolved

def drill_problems(plan: DrillPlan, source: str) -> list[str]:
    """What ``load_drill`` accepts but this runbook cannot run, one line each (before anything runs)."""
    problems: list[str] = []
    for index, group in enumerate(plan.resources.failover_groups):
        if group.mode == "try-planned" and not group.allow_data_loss:
            problems.append(
                f"{source}: resources.failover_groups[{index}].allow_data_loss: mode 'try-planned' becomes a forced "
                "failover when the primary region is down, losing the writes not yet replicated: set "
                "allow_data_loss: true to accept that, or use mode planned")
    frontdoor = plan.resources.frontdoor
    if frontdoor is not None and (isinstance(plan.target, AzureTarget) or frontdoor.origins):
        missing = [r for r in (plan.regions.primary, plan.regions.secondary) if r not in frontdoor.origins]
        if missing:
            problems.append(f"{source}: resources.frontdoor.origins: no origin named for {', '.join(missing)} "
                            "(region -> origin name in the origin group)")
    return problems


def sandbox_resources(plan: DrillPlan, info: dict[str, Any]) -> tuple[Resources, list[str], list[str]]:
    """The plan's resources, notes and problems against a sandbox's ``info()``. A plan that names
    no resources gets the sandbox's failover group and Front Door; Front Door origins left out are
    the sandbox's; an id outside the sandbox's subscription is a problem."""
    resources = plan.resources
    found = info.get("resources") or {}
    notes: list[str] = []
    if not resources.failover_groups and not resources.storage_accounts and resources.frontdoor is None:
        resources = Resources(
            failover_groups=[FailoverGroupSpec(id=i, mode="try-planned", allow_data_loss=True)
                             for i in found.get("failover_groups", [])],
            frontdoor=FrontDoorSpec(origin_group=found["frontdoor_origin_groups"][0])
            if found.get("frontdoor_origin_groups") else None)
        notes.append("resources: none named: using the sandbox's failover group (try-planned; losing sandbox writes "
                     "is allowed) and Front Door; name a storage account to fail it over too")
    if resources.frontdoor is not None and not resources.frontdoor.origins:
        origins = {region: origin_id.rstrip("/").rsplit("/", 1)[-1]
                   for region, origin_id in (found.get("frontdoor_origins") or {}).items()}
        resources = resources.model_copy(update={"frontdoor": resources.frontdoor.model_copy(update={"origins": origins})})
    subscription = str(info.get("subscription_id", "")).lower()
    ids = [("failover_groups", i, g.id) for i, g in enumerate(resources.failover_groups)]
    ids += [("storage_accounts", i, s.id) for i, s in enumerate(resources.storage_accounts)]
    if resources.frontdoor is not None:
        ids.append(("frontdoor.origin_group", None, resources.frontdoor.origin_group))
    problems = []
    for name, index, arm_id in ids:
        if f"/subscriptions/{subscription}/" not in arm_id.lower():
            where = f"resources.{name}" + (f"[{index}]" if index is not None else "")
            problems.append(f"{plan.name}: {where}: {arm_id} is not in the running sandbox (subscription "
                            f"{info.get('subscription_id')}): leave resources out to use the sandbox's, or use its ids "
                            "(`odin sandbox up` prints them)")
    return resources, notes, problems


# ================================================================== read-only questions to Azure

def partner_server(failover_group_id: str, target: Any, region: str) -> str:
    """The ARM id of the failover group's server in ``region`` (the one to become primary)."""
    from odin_drills.steps.azure import AzureSession
    from odin_drills.plan.arm_ids import ArmId, parse_arm_id, region_name

    ref = parse_arm_id(failover_group_id)
    server = ref.name_of("servers") or ""
    try:
        with AzureSession(target) as session:
            group = session.sql(ref.subscription_id).failover_groups.get(ref.resource_group, server, ref.name)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"resources.failover_groups: cannot read {ref.name} through server {server} "
                         f"({exc.__class__.__name__}: {_first_line(exc)}); in an incident name the group through "
                         "the server in the DR region") from None
    if region_name(group.location) == region:  # the id names the group through that very server
        return str(ArmId(ref.subscription_id, ref.resource_group, ref.namespace, ref.segments[:-1]))
    for partner in group.properties.partner_servers or []:
        if region_name(partner.location) == region:
            return str(partner.id)
    raise UsageError(f"resources.failover_groups: {ref.name} has no server in {region} "
                     f"(it is in {region_name(group.location)})")


def read_replication(steps: list[tuple[str, Any]], target: Any) -> dict[str, Any]:
    """For each (label, failover step): who is primary and how replication stands, as ARM says
    now. A read that fails is reported in ``errors``, never raised."""
    from odin_drills.steps.azure import AzureSession
    from odin_drills.plan.arm_ids import parse_arm_id, region_name

    state: dict[str, Any] = {"failover_groups": {}, "storage_accounts": {}}
    try:
        session = AzureSession(target)
    except Exception as exc:
        return {**state, "errors": [f"{exc.__class__.__name__}: {_first_line(exc)}"]}
    with session:
        for label, step in steps:
            try:
                if step.kind == "azure.sql.failover":
                    ref = parse_arm_id(step.to_server)
                    name = step.ref().failover_group
                    group = session.sql(ref.subscription_id).failover_groups.get(ref.resource_group, ref.name, name)
                    role = str(_plain(group.properties.replication_role)).lower()
                    primary = region_name(group.location) if role == "primary" else next(
                        (region_name(p.location) for p in group.properties.partner_servers or []), None)
                    state["failover_groups"][name] = {"primary_region": primary,
                                                      "replication_state": _plain(group.properties.replication_state)}
                elif step.kind == "azure.storage.failover":
                    ref = parse_arm_id(step.account)
                    account = session.storage(ref.subscription_id).storage_accounts.get_properties(
                        ref.resource_group, ref.name, expand="geoReplicationStats")
                    stats = account.properties.geo_replication_stats
                    state["storage_accounts"][ref.name] = {
                        "primary_region": region_name(account.properties.primary_location),
                        "sku": _plain(account.sku.name) if account.sku else None,
                        "geo_replication": _plain(stats.status) if stats else None,
                        "last_sync_time": stats.last_sync_time.isoformat() if stats and stats.last_sync_time else None}
            except Exception as exc:  # noqa: BLE001 - a read that fails is evidence too
                state.setdefault("errors", []).append(f"{label}: {exc.__class__.__name__}: {_first_line(exc)}")
    return state


def replication_evidence(outcomes: list[tuple[Any, Any]], now: dict[str, Any]) -> ReplicationEvidence:
    """What the APIs reported around the failover, as reported: the replication state each SQL
    failover read before acting, and the storage account's last sync time; ``now`` (a
    ``read_replication`` answer) when the failovers said nothing."""
    sql_state = storage_sync = None
    for step, outcome in outcomes:
        risk = outcome.output.get("data_at_risk") or {}
        before = outcome.output.get("before") or {}
        if step.kind == "azure.sql.failover":
            sql_state = sql_state or risk.get("replication_state") or before.get("replication_state")
        elif step.kind == "azure.storage.failover":
            storage_sync = storage_sync or risk.get("last_sync_time") or before.get("last_sync_time")
    if sql_state is None:
        sql_state = next((g.get("replication_state") for g in now.get("failover_groups", {}).values()), None)
    synced = None
    if storage_sync:
        with contextlib.suppress(ValueError):
            synced = datetime.fromisoformat(str(storage_sync).replace("Z", "+00:00"))
    return ReplicationEvidence(replication_state=sql_state, storage_last_sync_time=synced)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else ""
