"""Where a drill runs: the sandbox (reused, or started in-process) and the plan's resources
resolved against it.

    sandbox_for(plan, folder, lag)        a running sandbox (ODIN_SANDBOX_INFO) or one started for
                                          the drill and stopped at its end; None for Azure
    drill_problems(plan, source)          what load_drill accepts but the runbook cannot run
    sandbox_resources(plan, info)         the plan's resources, or the sandbox's when it names none

The read-only questions the runbook asks Azure are ``odin_drills.steps.dr.azure_reads``; the
sandbox's fault API, through ``SandboxLink``, is how ``odin_drills.steps.dr.outage`` breaks it.
This module is in ``flows`` because it may start ``odin_drills.sandbox``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from odin_drills.home import private_dir
from odin_drills.plan.drill import DrillPlan, FailoverGroupSpec, FrontDoorSpec, Resources
from odin_drills.plan.models import AzureTarget, SandboxTarget

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

    def active_faults(self) -> list[dict[str, Any]]:
        return list(self._http.get(f"{self.admin_url}/faults").json())

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

    state_dir = private_dir(folder / "sandbox")  # its CA certificate and endpoints: owner-only
    sandbox = AzureSandbox(state_dir=state_dir, replication_lag_seconds=replication_lag_seconds,
                           lro_retry_after=0, probe_interval_seconds=0.25, probe_timeout_seconds=0.5,
                           connection_mode=plan.target.connection_mode or "listener")
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
    ids += [("frontdoor_groups", i, g.origin_group) for i, g in enumerate(resources.frontdoor_groups)]
    problems = []
    wanted = getattr(plan.target, "connection_mode", None)
    running = info.get("connection_mode", "listener")
    if wanted is not None and wanted != running:
        problems.append(f"{plan.name}: target.connection_mode: the plan wants a {wanted} sandbox, and the running "
                        f"one ({SANDBOX_INFO_ENV}) is {running}: start it with `python -m odin_drills.sandbox.azure "
                        f"--connection-mode {wanted}`, or unset "
                        f"{SANDBOX_INFO_ENV} so the drill starts its own")
    for name, index, arm_id in ids:
        if f"/subscriptions/{subscription}/" not in arm_id.lower():
            where = f"resources.{name}" + (f"[{index}]" if index is not None else "")
            problems.append(f"{plan.name}: {where}: {arm_id} is not in the running sandbox (subscription "
                            f"{info.get('subscription_id')}): leave resources out to use the sandbox's, or use its ids "
                            "(`odin sandbox up` prints them)")
    return resources, notes, problems
