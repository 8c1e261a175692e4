"""azure.appservice.scale and azure.appservice.settings: the runbook's "scale up the DR region's App
Services", "update connection strings to the secondary region" and "update application configuration".

Real parts only: the azure-mgmt-web client over HTTPS to the sandbox, the write-ahead journal, the
rollback, and secrets read from a real ``secrets: {kind: directory}`` source at the call. The
journal is read back as text: connection strings are secrets, and no value may be in it — not even
masked (``***`` would mean the value reached the journal writer and only the redactor stopped it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from odin_drills.plan.secrets import DirectorySecrets
from odin_drills.sandbox.azure.world_web import orders_connection_string
from odin_drills.steps.actions import parse_undo, run_action
from odin_drills.steps.azure import describe_azure_step
from odin_drills.steps.intent import execute, pending_undos
from odin_drills.steps.journal import Journal
from odin_drills.steps.redact import MASK
from odin_drills.steps.rollback import undo_completed

Drill = Any  # tests/azure/conftest.py: the drill fixture
PLAN, APP = "odin-plan-westus", "app-westus"
PRIMARY = orders_connection_string("odin-fg", "orders")  # the sandbox's default: the failover group's listener
DR = ("Server=tcp:odin-sql-westus.database.windows.net,1433;Initial Catalog=orders;"
      "User ID=odin;Password=dr-conn-pw-5e1f7a2b")
REPORTING = "Server=tcp:reporting.example,1433;Password=rep-pw-0b5e55ed"


@pytest.fixture
def secrets(tmp_path: Path) -> DirectorySecrets:
    """The plan's ``secrets:`` source: one file per secret, as a mounted secret volume."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name, value in {"orders-dr": DR, "orders-primary": PRIMARY, "reporting": REPORTING}.items():
        (folder / name).write_text(value + "\n")
    return DirectorySecrets(kind="directory", path=str(folder))


def scale_step(drill: Drill, **fields: Any) -> Any:
    return drill.step({"kind": "azure.appservice.scale", "name": "scale-dr", "plan": PLAN,
                       "resource_group": drill.rg, "capacity": 3, **fields})


def settings_step(drill: Drill, **fields: Any) -> Any:
    return drill.step({"kind": "azure.appservice.settings", "name": "point-app-at-dr", "app": APP,
                       "resource_group": drill.rg, **fields})


def capacity(drill: Drill) -> int:
    return drill.sb.world.app_service_plans[PLAN].capacity


def app(drill: Drill) -> Any:
    return drill.sb.world.web_apps[APP]


def run(drill: Drill, step: Any, secrets: DirectorySecrets | None = None) -> Any:
    return run_action(step, client=httpx.Client(), clock=drill.clock, target=drill.session, secrets=secrets,
                      progress=lambda message, **data: drill.progress.append((message, data)))


def execute_step(drill: Drill, journal: Journal, step: Any, secrets: DirectorySecrets | None = None) -> Any:
    # progress goes to the journal as a run sends it, so a field the note model refuses fails here
    return execute(journal, step, phase="t0", label=step.name, migration="m1", client=httpx.Client(),
                   clock=drill.clock, target=drill.session, secrets=secrets,
                   progress=lambda message, **data: journal.append("note", phase="t0", step=step.name,
                                                                   message=message, **data))


def roll_back(drill: Drill, journal: Journal, secrets: DirectorySecrets | None = None) -> Any:
    return undo_completed(journal, client=httpx.Client(), clock=drill.clock, target=drill.session,
                          secrets=secrets, backoff_seconds=0)


# --------------------------------------------------------------------------- scale
def test_scaling_up_journals_the_old_count_before_the_put_and_the_undo_scales_back(drill: Drill, tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    seen_at_intent: list[int] = []
    journal.subscribe(lambda e: seen_at_intent.append(capacity(drill)) if e.kind == "step_intent" else None)
    outcome = execute_step(drill, journal, scale_step(drill))
    assert outcome.status == "ok", outcome.detail
    assert seen_at_intent == [1]  # the intent was on disk before the PUT
    intent = journal.entries("step_intent")[0].data
    assert intent["prior"]["capacity"] == 1
    assert intent["undo"] == {"kind": "azure.appservice.scale", "name": "undo scale-dr",
                              "plan": drill.id["app_service_plans"]["westus"], "capacity": 1, "timeout": 900.0}
    assert capacity(drill) == 3 and outcome.output["capacity"] == 3  # read back: the plan reports it
    assert outcome.detail == f"scaled App Service plan {PLAN} from 1 to 3 instances; the plan reports 3"

    assert roll_back(drill, journal).all_undone
    assert capacity(drill) == 1
    assert pending_undos(journal.entries()) == []


def test_a_second_scale_changes_nothing_and_still_reads_the_count(drill: Drill):
    step = scale_step(drill, undo="auto")
    assert run(drill, step).status == "ok"
    again = run(drill, step)
    assert again.status == "noop" and again.undo is None, again.detail
    assert again.output["capacity"] == 3
    assert again.detail == f"azure.appservice.scale {PLAN}: already 3 instances; the plan reports 3"


def test_more_instances_than_the_tier_allows_fail_with_azures_error_and_change_nothing(drill: Drill):
    outcome = run(drill, scale_step(drill, capacity=40))
    assert outcome.status == "failed"
    assert outcome.detail.startswith(f"azure.appservice.scale {PLAN}: BadRequest: ") and "\n" not in outcome.detail
    assert capacity(drill) == 1


def test_dry_run_says_what_would_change(drill: Drill):
    assert describe_azure_step(scale_step(drill), drill.session) == (
        f"would scale App Service plan {PLAN} to 3 instances (now: 1)")
    assert describe_azure_step(scale_step(drill, capacity=1), drill.session) == (
        f"no change: App Service plan {PLAN} already runs 1 instances")


# --------------------------------------------------------------------------- settings
def test_settings_change_only_the_named_keys_and_the_undo_restores_them_exactly(drill: Drill, tmp_path: Path,
                                                                              secrets: DirectorySecrets):
    drill.sb.world.set_app_setting(APP, "OTHER", "left-alone")
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    seen_at_intent: list[dict[str, str]] = []
    journal.subscribe(lambda e: seen_at_intent.append(dict(app(drill).app_settings))
                      if e.kind == "step_intent" else None)
    step = settings_step(drill, app_settings={"DB_TARGET": "odin-sql-westus", "FEATURE_DR": "on"},
                         connection_strings={"reporting": {"value": "${secret:reporting}", "type": "SQLAzure"}})
    outcome = execute_step(drill, journal, step, secrets)
    assert outcome.status == "ok", outcome.detail
    assert seen_at_intent == [{"DB_TARGET": "odin-sql-eastus", "OTHER": "left-alone"}]  # intent before the PUT
    assert app(drill).app_settings == {"DB_TARGET": "odin-sql-westus", "FEATURE_DR": "on", "OTHER": "left-alone"}
    assert app(drill).connection_strings == {"orders": (PRIMARY, "SQLAzure"), "reporting": (REPORTING, "SQLAzure")}
    intent = journal.entries("step_intent")[0].data
    assert intent["undo"] == {"kind": "azure.appservice.settings", "name": "undo point-app-at-dr",
                              "app": drill.id["web_apps"]["westus"], "timeout": 300.0,
                              "app_settings": {"DB_TARGET": "odin-sql-eastus"}, "remove_app_settings": ["FEATURE_DR"],
                              "remove_connection_strings": ["reporting"]}
    assert intent["prior"] == {"app_settings": {"DB_TARGET": "odin-sql-eastus", "FEATURE_DR": None},
                               "connection_strings": {"reporting": None}}
    assert outcome.output["after"]["connection_strings"] == {"reporting": {"value": "(secret)", "type": "SQLAzure"}}

    assert roll_back(drill, journal, secrets).all_undone
    assert app(drill).app_settings == {"DB_TARGET": "odin-sql-eastus", "OTHER": "left-alone"}
    assert app(drill).connection_strings == {"orders": (PRIMARY, "SQLAzure")}
    assert pending_undos(journal.entries()) == []
    text = (tmp_path / "journal.jsonl").read_text()
    assert REPORTING not in text and "rep-pw" not in text and MASK not in text


def test_moving_the_connection_string_to_dr_with_a_declared_undo_leaks_no_value(drill: Drill, tmp_path: Path,
                                                                              secrets: DirectorySecrets):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    step = settings_step(
        drill, connection_strings={"orders": {"value": "${secret:orders-dr}", "type": "SQLAzure"}},
        undo={"kind": "azure.appservice.settings", "app": APP, "resource_group": drill.rg,
              "connection_strings": {"orders": {"value": "${secret:orders-primary}", "type": "SQLAzure"}}})
    outcome = execute_step(drill, journal, step, secrets)
    assert outcome.status == "ok", outcome.detail
    assert app(drill).connection_strings == {"orders": (DR, "SQLAzure")}
    assert outcome.detail == f"set connection strings orders of web app {APP}; read back as wanted"
    assert journal.entries("step_intent")[0].data["prior"] == {
        "app_settings": {}, "connection_strings": {"orders": {"value": "(secret)", "type": "SQLAzure"}}}

    assert roll_back(drill, journal, secrets).all_undone
    assert app(drill).connection_strings == {"orders": (PRIMARY, "SQLAzure")}  # exactly the value before
    text = (tmp_path / "journal.jsonl").read_text()
    for value in (DR, "dr-conn-pw-5e1f7a2b", PRIMARY, MASK):
        assert value not in text, f"{value!r} is in the journal"
    assert "${secret:orders-primary}" in text  # the undo keeps the reference, resolved again at rollback
    for message, data in drill.progress:
        assert "dr-conn-pw" not in message and "dr-conn-pw" not in str(data)


def test_replacing_an_existing_secret_without_a_declared_undo_is_refused_before_any_change(
        drill: Drill, tmp_path: Path, secrets: DirectorySecrets):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    step = settings_step(drill, app_settings={"DB_TARGET": "odin-sql-westus"},
                         connection_strings={"orders": {"value": "${secret:orders-dr}", "type": "SQLAzure"}})
    outcome = execute_step(drill, journal, step, secrets)
    assert outcome.status == "failed"
    assert outcome.detail.startswith(
        f"azure.appservice.settings {APP}: connection_strings.orders holds a secret now, and an automatic undo "
        "would have to journal it")
    assert outcome.output["error"]["code"] == "UndoNeedsDeclaring"
    assert journal.entries("step_intent") == []
    assert app(drill).app_settings == {"DB_TARGET": "odin-sql-eastus"}
    assert app(drill).connection_strings == {"orders": (PRIMARY, "SQLAzure")}


def test_an_old_value_the_journal_would_mask_is_a_secret_too_and_needs_a_declared_undo(drill: Drill, tmp_path: Path):
    """DATABASE_URL is no secret-looking name, but a password in it is masked in the journal: an
    automatic undo read back from there would write '***' into production at failback."""
    drill.sb.world.set_app_setting(APP, "DATABASE_URL", "postgres://odin:hunter2pw@db-east:5432/orders")
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    outcome = execute_step(drill, journal, settings_step(drill, app_settings={"DATABASE_URL": "postgres://db-west/orders"}))
    assert outcome.status == "failed" and outcome.output["error"]["code"] == "UndoNeedsDeclaring"
    assert "app_settings.DATABASE_URL holds a secret now" in outcome.detail
    assert journal.entries("step_intent") == []
    assert app(drill).app_settings["DATABASE_URL"] == "postgres://odin:hunter2pw@db-east:5432/orders"
    assert "hunter2pw" not in (tmp_path / "journal.jsonl").read_text()


def test_a_scale_that_fails_after_its_put_keeps_its_undo_for_the_rollback(drill: Drill, tmp_path: Path):
    """The read-back shows another count (here: someone scaled it again at once): the PUT happened,
    so the step fails with its undo kept, and the rollback puts the old count back."""
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)

    def meddle(message: str, **data: Any) -> None:
        journal.append("note", phase="t0", step="scale-dr", message=message, **data)
        drill.sb.world.app_service_plans[PLAN].capacity = 2

    outcome = execute(journal, scale_step(drill), phase="t0", label="scale-dr", migration="m1",
                      client=httpx.Client(), clock=drill.clock, target=drill.session, progress=meddle)
    assert outcome.status == "failed" and outcome.output["error"]["code"] == "NotScaled"
    assert outcome.output["left_changed"] is True and outcome.undo["capacity"] == 1
    assert [e.step for e in pending_undos(journal.entries())] == ["scale-dr"]
    assert roll_back(drill, journal).all_undone
    assert capacity(drill) == 1


def test_a_second_run_of_the_settings_changes_nothing(drill: Drill, secrets: DirectorySecrets):
    step = settings_step(drill, app_settings={"DB_TARGET": "odin-sql-westus"},
                         connection_strings={"reporting": {"value": "${secret:reporting}", "type": "Custom"}})
    assert run(drill, step, secrets).status == "ok"
    again = run(drill, step, secrets)
    assert again.status == "noop" and again.undo is None, again.detail
    assert again.output["changed"] == {"app_settings": [], "connection_strings": []}


def test_a_secret_that_cannot_be_resolved_fails_the_step_before_anything_changes(drill: Drill,
                                                                                 secrets: DirectorySecrets):
    step = settings_step(drill, connection_strings={"x": {"value": "${secret:missing}", "type": "Custom"}})
    outcome = run(drill, step, secrets)
    assert outcome.status == "failed" and "${secret:missing}" in outcome.detail and "\n" not in outcome.detail
    assert app(drill).connection_strings == {"orders": (PRIMARY, "SQLAzure")}


def test_the_settings_undo_spec_parses_back_into_an_undo_step(drill: Drill):
    outcome = run(drill, settings_step(drill, app_settings={"DB_TARGET": "odin-sql-westus", "NEW": "1"}))
    undo = parse_undo(outcome.undo)
    assert undo.is_undo and undo.app_settings == {"DB_TARGET": "odin-sql-eastus"}
    assert undo.remove_app_settings == ["NEW"] and undo.ref().app == APP


@pytest.mark.parametrize("kind, spec, message", [
    ("azure.appservice.scale", {"plan": PLAN, "capacity": 0}, "capacity: Input should be greater than or equal to 1"),
    ("azure.appservice.scale", {"plan": PLAN, "capacity": 101}, "capacity: Input should be less than or equal to 100"),
    ("azure.appservice.scale", {"plan": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a",
                                "capacity": 2}, "plan: "),
    ("azure.appservice.settings", {"app": APP}, "app_settings: say at least one of app_settings, connection_strings"),
    ("azure.appservice.settings", {"app": APP, "connection_strings": {"orders": {"value": "Server=x;Password=y"}}},
     "connection_strings.orders.value: Value error, a connection string is a secret"),
    ("azure.appservice.settings",
     {"app": APP, "connection_strings": {"orders": {"value": "${env:X}", "type": "Oracle"}}},
     "connection_strings.orders.type: Input should be 'MySql'"),
    ("azure.appservice.settings", {"app": APP, "app_settings": {"A": "1"}, "remove_app_settings": ["A"]},
     "remove_app_settings: 'A' is both set and removed"),
])
def test_bad_input_is_refused_with_one_line_naming_the_field(drill: Drill, kind: str, spec: dict[str, Any],
                                                             message: str):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        drill.step({"kind": kind, "name": "s", "resource_group": drill.rg, **spec})
    (error,) = raised.value.errors()
    text = f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}".lstrip(": ")
    assert message in text and "\n" not in text


def plan_with(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "dr-app-tier", "environment": "sandbox", "target": {"kind": "sandbox"}, "service": {"name": "shop"},
            "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/api", "rate_per_second": 5},
            "secrets": {"kind": "directory", "path": "/run/secrets"}, "phases": {"t0": list(steps)}}


def test_in_a_migration_phase_both_kinds_undo_automatically_and_references_stand_only_in_values():
    from odin_drills.errors import PlanInvalid
    from odin_drills.plan.loader import parse_plan

    scale = {"kind": "azure.appservice.scale", "plan": PLAN, "resource_group": "rg-odin-drills", "capacity": 3}
    settings = {"kind": "azure.appservice.settings", "app": APP, "resource_group": "rg-odin-drills",
                "app_settings": {"DB_TARGET": "odin-sql-westus"},
                "connection_strings": {"orders-dr": {"value": "${secret:orders-dr}", "type": "SQLAzure"}}}
    loaded = parse_plan(plan_with(scale, settings), "drill.yaml")
    assert [s.undo for s in loaded.phases.t0] == [None, None] and all(s.changes_world for s in loaded.phases.t0)
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(plan_with({**settings, "app": "${secret:app-name}"}), "drill.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("drill.yaml: phases.t0[0].app: ${secret:app-name} is resolved only in")
