"""azure.frontdoor.origins: the runbook's promises for Front Door origins, checked at the edge."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from odin_drills.steps.azure import describe_azure_step
from odin_drills.steps.journal import Journal

Drill = Any  # tests/azure/conftest.py: the drill fixture


def origins_step(drill: Drill, origins: dict[str, Any], **extra: object):
    return drill.step({"kind": "azure.frontdoor.origins", "profile": "odin-frontdoor", "origin_group": "app-origins",
                       "resource_group": drill.rg, "origins": origins, **extra})


def edge_regions(drill: Drill, requests: int = 20) -> Counter[str]:
    """Which regions served ``requests`` requests through the Front Door edge."""
    with httpx.Client(timeout=5) as http:
        return Counter(http.get(f"{drill.info['frontdoor_url']}/health").headers["x-odin-region"]
                       for _ in range(requests))


def origins(drill: Drill) -> dict[str, Any]:
    return drill.state()["frontdoor_origins"]


def test_disabling_the_primary_origin_sends_traffic_to_westus_and_undo_brings_it_back(drill: Drill):
    assert edge_regions(drill) == Counter({"eastus": 20})
    outcome = drill.run(origins_step(drill, {"app-eastus": {"enabled": False}}))
    assert outcome.status == "ok", outcome.detail
    assert edge_regions(drill) == Counter({"westus": 20})
    assert outcome.undo == {"kind": "azure.frontdoor.origins", "origin_group": outcome.undo["origin_group"],
                            "origins": {"app-eastus": {"enabled": True}}, "timeout": 900.0}
    assert outcome.undo["origin_group"].lower() == drill.id["frontdoor_origin_groups"][0].lower()

    back = drill.undo(outcome)
    assert back.status == "ok", back.detail
    assert origins(drill)["app-eastus"] == {"region": "eastus", "enabledState": "Enabled", "priority": 1,
                                            "weight": 1000, "provisioningState": "Succeeded"}
    assert edge_regions(drill) == Counter({"eastus": 20})


def test_only_changed_fields_are_patched_and_a_second_run_is_a_noop(drill: Drill):
    step = origins_step(drill, {"app-eastus": {"priority": 2, "weight": 1000},
                                "app-westus": {"priority": 1, "enabled": True}}, undo="auto")
    outcome = drill.run(step)
    assert outcome.status == "ok", outcome.detail
    assert [m["details"]["changes"] for m in drill.mutations()] == [{"priority": 2}, {"priority": 1}]
    assert outcome.undo["origins"] == {"app-eastus": {"priority": 1}, "app-westus": {"priority": 2}}
    assert edge_regions(drill) == Counter({"westus": 20})

    before = drill.mutations()
    again = drill.run(step)
    assert again.status == "noop"
    assert again.detail.startswith("no change: origins already as wanted (app-eastus Enabled p2 w1000, ")
    assert drill.mutations() == before


def test_a_staged_weight_shift_journals_every_stage(drill: Drill, tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    step = origins_step(drill, {"app-westus": {"priority": 1, "weight": 1000}, "app-eastus": {"weight": 1}},
                        stages=4, stage_interval="30s", name="shift-to-west")
    from odin_drills.steps.actions import run_action

    outcome = run_action(step, client=httpx.Client(), clock=drill.clock, target=drill.session,
                         progress=lambda message, **data: journal.append("note", phase="t0", step=step.label,
                                                                         message=message, **data))
    assert outcome.status == "ok", outcome.detail
    notes = [e for e in journal.entries() if e.kind == "note"]
    assert [e.data["stage"]["stage"] for e in notes] == [1, 2, 3, 4]
    assert [e.data["stage"]["set"]["app-eastus"]["weight"] for e in notes] == [750, 500, 251, 1]
    assert notes[0].data["stage"]["set"]["app-westus"] == {"priority": 1}
    assert [(b.time - a.time).total_seconds() for a, b in zip(notes, notes[1:])] == [30.0, 30.0, 30.0]
    assert notes[0].data["message"] == "azure.frontdoor.origins app-origins: stage 1/4: app-westus priority 1; app-eastus weight 750"
    assert [s["stage"] for s in outcome.output["stages"]] == [1, 2, 3, 4]
    assert outcome.undo["origins"] == {"app-westus": {"priority": 2}, "app-eastus": {"weight": 1000}}
    assert Counter(edge_regions(drill, 40))["westus"] >= 35  # weight 1000 : 1

    back = drill.undo(outcome)
    assert back.status == "ok" and edge_regions(drill) == Counter({"eastus": 20})


def test_a_failing_stage_puts_back_what_earlier_stages_changed(drill: Drill):
    step = origins_step(drill, {"app-westus": {"priority": 1}, "app-eastus": {"weight": 1}}, stages=2)
    fault = {"kind": "operation_failure", "operation": "origin_update", "code": "OriginUpdateFailed",
             "message": "Deployment failed.", "count": 1}
    drill.progress.clear()
    injected = []

    def fail_the_next_stage(message: str, **data: Any) -> None:
        if not injected:
            injected.append(drill.sb.faults.add(fault))

    from odin_drills.steps.actions import run_action

    outcome = run_action(step, client=httpx.Client(), clock=drill.clock, target=drill.session,
                         progress=fail_the_next_stage)
    assert outcome.status == "failed"
    assert outcome.detail.startswith("azure.frontdoor.origins app-origins/app-eastus: OriginUpdateFailed: "
                                     "Deployment failed.; restored the previous settings of ")
    assert outcome.undo is None
    now = origins(drill)
    assert (now["app-eastus"]["weight"], now["app-westus"]["priority"]) == (1000, 2)


def test_an_unknown_origin_is_named(drill: Drill):
    outcome = drill.run(origins_step(drill, {"app-centralus": {"enabled": False}}))
    assert outcome.status == "failed"
    assert outcome.detail == ("azure.frontdoor.origins app-origins: OriginNotFound: app-centralus not in origin "
                              "group app-origins (it has app-eastus, app-westus)")
    assert drill.mutations() == []


def test_describe_lists_each_field_that_would_change(drill: Drill):
    step = origins_step(drill, {"app-eastus": {"enabled": False}, "app-westus": {"priority": 1, "weight": 1000}})
    assert describe_azure_step(step, drill.session) == \
        "would set app-westus priority 2→1; app-eastus enabledState Enabled→Disabled"
    staged = origins_step(drill, {"app-eastus": {"weight": 500}}, stages=2, stage_interval="5m")
    assert describe_azure_step(staged, drill.session) == "would set app-eastus weight 1000→500 in 2 stages, 300 s apart"
    drill.run(step)
    assert describe_azure_step(step, drill.session) == \
        "no change: origins already as wanted (app-eastus Disabled p1 w1000, app-westus Enabled p1 w1000)"
