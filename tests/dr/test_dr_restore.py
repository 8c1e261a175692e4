"""The restore drill's engine against the sandbox: real HTTP canaries, the real azure-mgmt-sql client
over HTTPS, the sandbox's ground truth (``restore_report``) to check the drill's numbers against.

The only double is time: a ``ScaledClock`` (plan time N× faster than the wall clock).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from odin_drills.plan.models import SandboxTarget
from odin_drills.steps import intent as wal
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr.restore import RestoreContext, delete_copies, restore_step, run_restore
from odin_drills.steps.journal import Journal

from conftest import restore_ctx, sql_client

SCALE = 5.0


def make_ctx(sandbox, tmp_path: Path, client: httpx.Client, **restore) -> RestoreContext:
    return restore_ctx(sandbox, tmp_path, client, SCALE, restore=restore)


def test_restore_drill_measures_rto_and_lost_writes_against_the_sandbox_truth(start_sandbox, tmp_path):
    # 1 wall s of log-backup lag = 5 s of plan time; restores take 0.2 + size-proportional wall seconds
    sandbox = start_sandbox(pitr_log_lag_seconds=1.0, pitr_base_seconds=0.2, pitr_seconds_per_gib=0.4)
    with httpx.Client(timeout=2.0) as client:
        ctx = make_ctx(sandbox, tmp_path, client)
        result = run_restore(ctx)
    card = result.card
    assert sandbox.world.restore_report() == [], "the copy is deleted at the end"
    ops = {o["operation"]: o for o in sandbox.operations()}
    restore_op, delete_op = ops["databasePointInTimeRestore"], ops["databaseDelete"]
    assert restore_op["result"] == delete_op["result"] == "Succeeded"
    # RTO: the sandbox's restore duration (wall) in plan time, plus the SDK's round trips
    wall = restore_op["finished_at_epoch"] - restore_op["time_epoch"]
    assert card.rto_seconds == pytest.approx(wall * SCALE, abs=0.5 * SCALE)
    assert card.rto_seconds <= card.rto_target_seconds
    # RPO: exactly the writes inside the log lag before the request are lost, and nothing else
    effective = restore_op["details"]["effective_point"]
    requested = restore_op["details"]["requested_point"]
    assert effective < requested
    writes = {w["id"]: w for w in sandbox.writes()}
    verified = next(e for e in ctx.journal.entries() if e.kind == "restore_verified").data
    lost_truth = {i for i, w in writes.items()
                  if restore_op["time_epoch"] - 1.0 < w["acknowledged_at_epoch"] <= card.restore_point.timestamp()}
    assert set(verified["lost_ids"]) == lost_truth and verified["lost"] == card.lost_writes > 0
    assert card.extra_writes == 0 and card.corrupted_writes == 0 and card.unreadable_writes == 0
    assert 0 < card.rpo_seconds <= 1.0 * SCALE  # the lag, in plan time
    assert card.canary_writes > card.expected_writes > card.lost_writes  # rows after the point existed too
    assert card.copy_deleted and card.passed, card.criteria


def test_a_restore_slower_than_the_target_fails_its_criterion(start_sandbox, tmp_path):
    sandbox = start_sandbox(pitr_log_lag_seconds=0.2, pitr_base_seconds=2.0, pitr_seconds_per_gib=0.0)
    with httpx.Client(timeout=2.0) as client:
        ctx = make_ctx(sandbox, tmp_path, client)
        ctx.plan.targets.rto = 5.0  # 2 wall s = 10 plan s > 5 s
        card = run_restore(ctx).card
    assert card.rto_seconds is not None and card.rto_seconds >= 10.0
    assert card.criteria["restore_within_rto"].passed is False
    assert card.criteria["restored_data_verified"].passed is True and card.copy_deleted


def test_a_copy_requested_before_a_crash_is_deleted_from_the_journal_alone(start_sandbox, tmp_path):
    """The intent (with its undo) is on disk before the PUT: a new process reconciles and deletes."""
    sandbox = start_sandbox(pitr_base_seconds=0.3, pitr_seconds_per_gib=0.0)
    with httpx.Client(timeout=2.0) as client:
        ctx = make_ctx(sandbox, tmp_path, client)
        from datetime import datetime, timezone

        step = restore_step(ctx, datetime.now(timezone.utc))
        # the drill "dies" right after ARM accepted the restore: intent and operation journaled, no outcome
        ctx.journal.append("step_started", phase="restore", step=step.name, step_kind=step.kind, changes_world=True,
                           migration="d1", attempt=1)
        from odin_drills.steps.azure.sql_restore import undo_for
        from odin_drills.steps.azure.clients import AzureSession

        with AzureSession(ctx.target) as session:
            ctx.journal.append("step_intent", phase="restore", step=step.name, attempt=1, migration="d1",
                               step_kind=step.kind, spec=wal.step_spec(step), observable=True, prior=None,
                               undo=undo_for(step, session), change="restore")
        from azure.mgmt.sql import models

        info = sandbox.info()
        with sql_client(sandbox) as sql:
            sql.databases.begin_create_or_update(info["resource_group"], "odin-sql-eastus", ctx.restored_name,
                                                 models.Database(location="eastus", tags=step.tags,
                                                                 properties=models.DatabaseProperties(
                                                                     create_mode="PointInTimeRestore",
                                                                     source_database_id=ctx.source_database,
                                                                     restore_point_in_time=step.restore_point)))
        assert [r["database"] for r in sandbox.world.restore_report()] == [ctx.restored_name]
        # a fresh reader of the same journal: reconcile says "happened", the pending undo deletes the copy
        journal = Journal(tmp_path / "journal.jsonl", ctx.clock)
        found = wal.reconcile(journal, target=ctx.target, migration="d1")
        assert [f.verdict for f in found] == ["happened"]
        again = RestoreContext(**{**ctx.__dict__, "journal": journal})
        assert [ok for _, ok in delete_copies(again, phase="rollback")] == [True]
        assert sandbox.world.restore_report() == []
        assert delete_copies(again, phase="rollback") == [], "an undo that succeeded never runs again"


def test_an_undo_never_deletes_a_database_without_the_drills_tags(start_sandbox, tmp_path):
    sandbox = start_sandbox(pitr_base_seconds=0.0, pitr_seconds_per_gib=0.0)
    info = sandbox.info()
    from datetime import datetime, timezone

    from azure.mgmt.sql import models

    from odin_drills.steps.actions import parse_undo, run_action

    with sql_client(sandbox) as sql:
        sql.databases.begin_create_or_update(info["resource_group"], "odin-sql-eastus", "someone-elses", models.Database(
            location="eastus", tags={"owner": "finance"}, properties=models.DatabaseProperties(
                create_mode="PointInTimeRestore", source_database_id=info["resources"]["databases"][0],
                restore_point_in_time=datetime.now(timezone.utc)))).result()
    undo = parse_undo({"kind": "azure.sql.database.delete", "server": info["resources"]["sql_servers"]["eastus"],
                       "database": "someone-elses", "require_tags": {"odin-drill": "d1"}})
    target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])
    with httpx.Client() as client:
        outcome = run_action(undo, client=client, clock=ScaledClock(1.0), target=target)
    assert outcome.status == "failed" and "does not carry the tags" in outcome.detail
    assert [r["database"] for r in sandbox.world.restore_report()] == ["someone-elses"]
