"""A drill file is validated before anything runs: one line per problem, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from odin_drills.errors import PlanInvalid
from odin_drills.plan.drill import DrillPlan, load_drill, parse_drill, rebase_journey

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-odin-drills/providers"
FULL = f"""\
name: shop-region-failover
description: Quarterly DR test - East US goes dark, West US takes over.
environment: shop-prod-dr
kind: region-failover
target: {{kind: sandbox}}
regions: {{primary: eastus, secondary: westus}}
endpoints:                      # sandbox: may be left out, filled from the running sandbox
  frontdoor: "${{FRONTDOOR_URL:-http://127.0.0.1:8800}}"
  regions:
    eastus: http://127.0.0.1:8801
    westus: http://127.0.0.1:8802
resources:
  failover_groups:
    - id: {SUB}/Microsoft.Sql/servers/odin-sql-eastus/failoverGroups/odin-fg
      mode: forced
      allow_data_loss: true     # required for forced: unreplicated writes are lost
  storage_accounts:
    - id: {SUB}/Microsoft.Storage/storageAccounts/odindrillsdata
      mode: unplanned
      allow_data_loss: true
  frontdoor:
    origin_group: {SUB}/Microsoft.Cdn/profiles/odin-frontdoor/originGroups/app-origins
    origins: {{eastus: app-eastus, westus: app-westus}}
detection:
  interval: 30s
  confirmation: 2m
  threshold: 30m
  path: /health
  timeout: 5s
  frontdoor_probe: {{method: POST, path: /api/orders, json: {{probe: rto}}}}
decision: {{mode: drill, human_confirm: false, confirm_timeout: 15m}}
smoke:
  - name: health
    url: http://frontdoor/health
    assert: [{{jsonpath: "$.status", equals: ok}}]
  - name: place-order
    method: POST
    url: http://frontdoor/api/orders
    json: {{sku: canary-check}}
    expect_status: 201
canary: {{path: /api/orders, read_path: "/api/orders/{{id}}", rate_per_second: 5, payload_bytes: 64}}
targets: {{rto: 4h, rpo: 15m, consecutive_successes: 3}}
failback: {{enabled: true, wait_healthy: 5m}}
comms:
  channels:
    - {{name: incident-room, kind: slack, url: "${{SLACK_WEBHOOK:-https://hooks.slack.com/services/T/B/X}}"}}
  minutes: [0, 15, 60, 90]
outage: {{inject: true, region: eastus}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(PlanInvalid) as caught:
        load_drill(path, environ={})
    return caught.value.problems


def test_the_full_example_loads_with_its_values(tmp_path: Path) -> None:
    plan = load_drill(write(tmp_path, FULL), environ={"FRONTDOOR_URL": "http://127.0.0.1:9999"})
    assert plan.name == "shop-region-failover"
    assert str(plan.endpoints.frontdoor) == "http://127.0.0.1:9999/"
    assert plan.resources.failover_groups[0].mode == "forced"
    assert plan.detection.confirmation == 120 and plan.detection.threshold == 1800
    assert plan.detection.probe_through_frontdoor().method == "POST"
    assert plan.targets.rto == 4 * 3600 and plan.targets.rpo == 900
    assert plan.comms.channels[0].name == "incident-room"
    assert plan.outage_region == "eastus"


def test_a_minimal_drill_gets_the_documented_defaults() -> None:
    plan = parse_drill({"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"}})
    assert plan.target.kind == "sandbox" and plan.decision.mode == "drill"
    assert (plan.detection.interval, plan.detection.confirmation, plan.detection.threshold) == (30, 120, 1800)
    assert (plan.targets.rto, plan.targets.rpo, plan.targets.consecutive_successes) == (14400, 900, 3)
    assert plan.canary.rate_per_second == 5 and plan.canary.path == "/api/orders"
    assert plan.failback.enabled and plan.failback.wait_healthy == 300
    assert plan.comms.minutes == [0, 15, 60, 90]
    assert plan.outage.inject and plan.outage_region == "eastus"
    # an unanswered confirmation ends 5 minutes inside the runbook's 15-minute decision budget
    assert (plan.decision.confirm_timeout, plan.targets.budgets.decision) == (600, 900)
    longer = {"human_confirm": True, "confirm_timeout": "20m"}
    assert parse_drill({"name": "dr", "environment": "staging", "decision": longer, "targets": {"budgets": {"decision": "30m"}},
                        "regions": {"primary": "eastus", "secondary": "westus"}}).decision.confirm_timeout == 1200
    assert DrillPlan.model_json_schema(by_alias=True)["additionalProperties"] is False


def test_a_forced_failover_without_allow_data_loss_is_one_line_naming_the_field(tmp_path: Path) -> None:
    text = FULL.replace("      mode: forced\n      allow_data_loss: true     # required for forced: unreplicated writes are lost\n",
                        "      mode: forced\n")
    lines = problems(tmp_path, text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'drill.yaml'}: resources.failover_groups[0].allow_data_loss: mode 'forced'")


def test_an_unplanned_storage_failover_without_allow_data_loss_is_refused(tmp_path: Path) -> None:
    text = FULL.replace("      mode: unplanned\n      allow_data_loss: true\n", "      mode: unplanned\n")
    lines = problems(tmp_path, text)
    assert len(lines) == 1, lines
    assert ": resources.storage_accounts[0].allow_data_loss: mode 'unplanned' loses" in lines[0]


def test_try_planned_the_default_needs_the_data_loss_opt_in_and_planned_does_not() -> None:
    """try-planned falls back to forced exactly when a region is down: that loss must be opted into."""
    base = {"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"}}
    group = {"id": f"{SUB}/Microsoft.Sql/servers/a/failoverGroups/fg"}
    with pytest.raises(PlanInvalid) as caught:
        parse_drill({**base, "resources": {"failover_groups": [group]}}, "d.yaml", environ={})
    assert caught.value.problems == ["d.yaml: resources.failover_groups[0].allow_data_loss: mode 'try-planned' can lose "
                                     "the writes not yet replicated: set allow_data_loss: true to accept that, or use mode planned"]
    plan = parse_drill({**base, "resources": {"failover_groups": [{**group, "allow_data_loss": True}],
                                              "storage_accounts": [{"id": f"{SUB}/Microsoft.Storage/storageAccounts/s"}]}})
    assert plan.resources.failover_groups[0].mode == "try-planned"
    assert plan.resources.storage_accounts[0].mode == "planned"
    planned = parse_drill({**base, "resources": {"failover_groups": [{**group, "mode": "planned"}]}})
    assert not planned.resources.failover_groups[0].allow_data_loss


def test_an_unknown_field_is_one_line_naming_it(tmp_path: Path) -> None:
    lines = problems(tmp_path, FULL.replace("  confirmation: 2m\n", "  confirmation: 2m\n  confirmaton: 3m\n"))
    assert lines == [f"{tmp_path / 'drill.yaml'}: detection.confirmaton: unknown field "
                     "(check the spelling; `odin schema` lists the fields)"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"regions": {"primary": "eastus", "secondary": "eastus"}}, "regions: primary and secondary must be different"),
    ({"kind": "migration"}, "kind: Input should be 'region-failover'"),
    ({"detection": {"path": "health"}}, "detection.path: 'health' must be a path starting with '/'"),
    ({"canary": {"read_path": "/api/orders"}}, "canary.read_path: read_path must contain {id}"),
    ({"outage": {"region": "northeurope"}}, "outage.region: 'northeurope' is neither"),
    ({"resources": {"failover_groups": [{"id": "odin-fg", "allow_data_loss": True}]}}, "resources.failover_groups[0].id: 'odin-fg' is not an ARM id"),
    ({"target": {"kind": "azure", "subscription_id": "s"}}, "an Azure target needs endpoints.frontdoor"),
    ({"name": "Shop DR"}, "name: 'Shop DR' must be lower-case"),
    ({"decision": {"human_confirm": True, "confirm_timeout": "15m"}},
     "decision.confirm_timeout (15m) fills targets.budgets.decision (15m): an unanswered confirmation misses"),
])
def test_each_mistake_is_named(change: dict, expected: str) -> None:
    data = {"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"}, **change}
    with pytest.raises(PlanInvalid) as caught:
        parse_drill(data, "d.yaml", environ={})
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith("d.yaml: ") and expected in caught.value.problems[0], caught.value.problems


def test_sandbox_endpoints_come_from_the_running_sandbox_or_a_clear_error() -> None:
    plan = parse_drill({"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"}})
    info = {"frontdoor_url": "http://127.0.0.1:1", "regions": {"eastus": "http://127.0.0.1:2", "westus": "http://127.0.0.1:3"}}
    endpoints = plan.resolve_endpoints(info)
    assert endpoints.frontdoor == "http://127.0.0.1:1"
    assert endpoints.regions == {"eastus": "http://127.0.0.1:2", "westus": "http://127.0.0.1:3"}
    with pytest.raises(PlanInvalid) as caught:
        plan.resolve_endpoints(None)
    assert caught.value.problems == [
        "dr: endpoints.frontdoor: not set in the plan and no sandbox is running",
        "dr: endpoints.regions.eastus: not set in the plan",
        "dr: endpoints.regions.westus: not set in the plan",
    ]


def test_smoke_journeys_are_rebased_onto_front_door_or_a_region(tmp_path: Path) -> None:
    plan = load_drill(write(tmp_path, FULL), environ={})
    journey = rebase_journey(plan.smoke[1], "http://127.0.0.1:8802")
    assert str(journey.url) == "http://127.0.0.1:8802/api/orders"
    assert journey.method == "POST" and journey.json_body == {"sku": "canary-check"}



DNS = {"kind": "azure.dns.records", "name": "app-dns", "zone": "odin-demo.example", "resource_group": "rg-odin-drills",
       "record_set": "app", "type": "CNAME", "targets": ["app-westus.odin-demo.example"]}


def test_custom_steps_per_phase_load_in_order_with_the_migration_step_kinds_and_undo_rules() -> None:
    steps = {"failover": [DNS, {"kind": "http", "name": "settings", "method": "PUT", "url": "http://app/settings",
                                "undo": {"kind": "http", "method": "PUT", "url": "http://app/settings/old"}}],
             "validation": [{"kind": "smoke", "journeys": ["health"]}],
             "failback": [{"kind": "wait", "duration": "30s"}]}
    plan = parse_drill({"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"},
                        "smoke": [{"name": "health", "url": "http://frontdoor/health"}], "steps": steps})
    assert [s.label for s in plan.steps.failover] == ["app-dns", "settings"]
    assert plan.steps.failover[0].auto_undo and plan.steps.validation[0].kind == "smoke"
    assert plan.steps.failback[0].duration == 30
    assert parse_drill({"name": "dr", "environment": "staging",
                        "regions": {"primary": "eastus", "secondary": "westus"}}).steps.failover == []


@pytest.mark.parametrize(("steps", "expected"), [
    ({"failover": [{**DNS, "targets": ["a.example", "b.example"]}]},
     "steps.failover[0]: targets: a CNAME record set has exactly one host name, not 2"),
    ({"failover": [DNS, {"kind": "command", "argv": ["scale-up"]}]},
     "steps.failover[1]: world-changing command step needs 'undo:'"),
    ({"validation": [{"kind": "http", "url": "http://x/y", "undo": "none"}]},
     "steps.validation[0]: 'undo: none' needs 'undo_reason:'"),
    ({"failback": [{"kind": "azure.dns.record"}]}, "steps.failback[0]: unknown kind 'azure.dns.record'"),
    ({"failover": [DNS, DNS]}, "steps.failover[1]: step name 'app-dns' is used twice in steps.failover"),
    ({"validation": [{"kind": "gate"}]}, "steps.validation[0]: a gate judges metrics, and a drill has no metric source"),
    ({"validation": [{"kind": "smoke", "journeys": ["chekout"]}]}, "steps.validation[0].journeys: unknown journeys"),
    ({"rollback": []}, "steps.rollback: unknown field"),
    ({"failover": [{**DNS, "budget": "5m"}]}, "steps.failover[0].budget: a step's RTO is a migration's rule"),
    ({"failover": [{"kind": "http", "method": "POST", "url": "http://x/${secret:hook}", "undo": "none",
                    "undo_reason": "a notice"}]},
     "steps.failover[0].url: ${secret:hook} needs a `secrets:` source in the plan"),
    ({"failover": [{**DNS, "name": "dns-${secret:name}"}]}, "steps.failover[0].name: ${secret:name} is resolved only in"),
])
def test_a_bad_custom_step_is_one_line_naming_its_field(steps: dict, expected: str) -> None:
    data = {"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"},
            "steps": steps}
    with pytest.raises(PlanInvalid) as caught:
        parse_drill(data, "d.yaml", environ={})
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"d.yaml: {expected}"), caught.value.problems


def test_a_run_asking_for_confirmation_gets_the_plans_budget_check() -> None:
    """decision.human_confirm is checked against the decision budget when the plan loads; the run
    option (the UI form's human_confirm) asks the same of a plan that did not, and is refused alike."""
    from odin_drills.errors import UsageError
    from odin_drills.flows.drill_run import confirmation_fits_decision_budget
    from odin_drills.steps.dr.run import DrillOptions

    plan = parse_drill({"name": "dr", "environment": "staging", "decision": {"confirm_timeout": "20m"},
                        "regions": {"primary": "eastus", "secondary": "westus"}})  # no human_confirm: loads
    confirmation_fits_decision_budget(plan, "dr.yaml", "drill", DrillOptions())  # no confirmation asked: fine
    confirmation_fits_decision_budget(plan, "dr.yaml", "incident", DrillOptions(human_confirm=True))  # incident: own rule
    with pytest.raises(UsageError) as caught:
        confirmation_fits_decision_budget(plan, "dr.yaml", "drill", DrillOptions(human_confirm=True))
    message = caught.value.message
    assert message.startswith("dr.yaml: decision.confirm_timeout (20 min) fills targets.budgets.decision (15 min)")
    assert message.endswith("or run without human_confirm") and "\n" not in message
