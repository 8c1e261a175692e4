"""Issue 14: a drill moves many Front Door origin groups, in one traffic wave, and moves them back.

``resources.frontdoor_groups`` lists origin groups beyond ``resources.frontdoor`` (the one the outage
injector and probes go through). Each must name its origin per region; all go in the Front Door wave
(in parallel, after the data tier), each journaled write-ahead with its undo, and the failback undoes
every one of them — here against a scaled sandbox (``--scale afd=3``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from odin_drills.errors import PlanInvalid
from odin_drills.plan.drill import parse_drill
from odin_drills.plan.models import SandboxTarget
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr.failover import execute_action, failback_undos, failover_waves, run_undo
from odin_drills.steps.dr.run import DrillOptions, DrillRun
from odin_drills.steps.journal import Journal

REGIONS = {"primary": "eastus", "secondary": "westus"}


def _plan(info: dict[str, Any], groups: int) -> Any:
    scaled = info["scaled_resources"]["frontdoor_origin_groups"][:groups]
    return parse_drill({
        "name": "afd-groups", "environment": "afd-groups", "regions": REGIONS,
        "target": {"kind": "sandbox", "arm_url": info["arm_url"], "ca_cert": info["ca_cert"],
                   "subscription_id": info["subscription_id"]},
        "resources": {
            "frontdoor": {"origin_group": info["resources"]["frontdoor_origin_groups"][0],
                          "origins": {"eastus": "app-eastus", "westus": "app-westus"}},
            "frontdoor_groups": [{"origin_group": g, "origins": {r: f"{g.rsplit('/', 1)[-1]}-{r}" for r in REGIONS.values()}}
                                 for g in scaled]}})


def test_each_extra_origin_group_must_name_both_regions_origins() -> None:
    group = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.Cdn/profiles/p/origingroups/og-0001"
    with pytest.raises(PlanInvalid, match=r"resources.frontdoor_groups\[0\].origins: name the origin of the primary"):
        parse_drill({"name": "x", "environment": "x", "regions": REGIONS,
                     "resources": {"frontdoor_groups": [{"origin_group": group, "origins": {"eastus": "a"}}]}})


def test_a_drill_moves_every_origin_group_in_one_wave_and_the_failback_moves_them_back(
        start_sandbox: Callable[..., AzureSandbox], tmp_path: Path) -> None:
    sandbox = start_sandbox(scale="afd=3")
    info = sandbox.info()
    plan = _plan(info, 3)
    clock = ScaledClock(60.0)
    run = DrillRun(plan=plan, drill_id="d1", mode="drill", options=DrillOptions(max_parallel=4), clock=clock,
                   journal=Journal(tmp_path / "journal.jsonl", clock), endpoints=plan.resolve_endpoints(info),
                   target=SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"],
                                        subscription_id=info["subscription_id"]), resources=plan.resources)
    try:
        waves = failover_waves(run)
        assert [[a.label for a in w] for w in waves] == [[
            "frontdoor app-origins -> westus", "frontdoor og-0001 -> westus", "frontdoor og-0002 -> westus",
            "frontdoor og-0003 -> westus"]]
        outcomes = [execute_action(run, action, "failover") for action in waves[0]]
        assert [o.status for o in outcomes] == ["ok"] * 4, [o.detail for o in outcomes]
        world = sandbox.world
        assert world is not None

        def enabled(group: str) -> dict[str, str]:
            return {o.name: o.deployed["enabled_state"] for o in world.frontdoor.origin_groups[group].origins.values()}

        assert enabled("og-0002") == {"og-0002-eastus": "Disabled", "og-0002-westus": "Enabled"}
        undos = failback_undos(run, "failback")
        assert len(undos) == 4
        assert all(run_undo(run, entry, label, "failback") for entry, label in undos)
        assert all(enabled(g) == {f"{g}-eastus": "Enabled", f"{g}-westus": "Enabled"}
                   for g in ("og-0001", "og-0002", "og-0003"))
        assert failback_undos(run, "failback") == []  # each undone once
    finally:
        run.close()


def test_the_drill_file_sets_how_many_failover_actions_run_at_once_and_the_run_form_may_override_it(tmp_path: Path) -> None:
    base = {"name": "x", "environment": "x", "regions": REGIONS}
    default, wide = parse_drill(base), parse_drill({**base, "resources": {"max_parallel": 16}})
    with pytest.raises(PlanInvalid, match=r"resources.max_parallel"):
        parse_drill({**base, "resources": {"max_parallel": 17}})
    clock = ScaledClock(60.0)

    def run(plan: Any, options: DrillOptions) -> DrillRun:
        return DrillRun(plan=plan, drill_id="d1", mode="drill", options=options, clock=clock,
                        journal=Journal(tmp_path / "journal.jsonl", clock), endpoints=None,  # type: ignore[arg-type]
                        target=None, resources=plan.resources)

    assert run(default, DrillOptions()).max_parallel == 4
    assert run(wide, DrillOptions()).max_parallel == 16
    assert run(wide, DrillOptions(max_parallel=2)).max_parallel == 2
