"""The restore drill's blob store against the sandbox: real canary blobs through Front Door, the real
azure-mgmt-storage client over HTTPS, the sandbox's ground truth (``blob_restore_report``, the
acknowledged writes) to check the drill's numbers against.

The only double is time: a ``ScaledClock`` (plan time N× faster than the wall clock).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from odin_drills.steps import intent as wal
from odin_drills.steps.dr.blob_restore import blob_step, prefix_of
from odin_drills.steps.dr.restore import RestoreContext, delete_copies, run_restore
from odin_drills.steps.journal import Journal

from conftest import restore_ctx

SCALE = 5.0


def make_ctx(sandbox, tmp_path: Path, client: httpx.Client) -> RestoreContext:
    return restore_ctx(sandbox, tmp_path, client, SCALE, blob_restore={"point_before_request": "4s"})


def test_the_blob_range_is_restored_to_the_point_verified_scored_and_restored_back(start_sandbox, tmp_path):
    sandbox = start_sandbox(pitr_log_lag_seconds=0.2, pitr_base_seconds=0.2, pitr_seconds_per_gib=0.0,
                            pitr_blob_base_seconds=0.4, pitr_blob_seconds_per_change=0.0)
    with httpx.Client(timeout=2.0) as client:
        ctx = make_ctx(sandbox, tmp_path, client)
        card = run_restore(ctx).card
        first, back = sandbox.world.blob_restore_report()
        # the restore: to the requested point, over the drill's prefix only
        assert first["parameters"]["blobRanges"] == [{"startRange": "odin-canary/d1/", "endRange": "odin-canary/d10"}]
        assert first["time_to_restore_epoch"] == pytest.approx(card.blob.restore_point.timestamp(), abs=1e-3)
        blobs = [w for w in sandbox.writes() if w["kind"] == "blob"]
        after = {w["key"] for w in blobs if w["acknowledged_at_epoch"] > first["time_to_restore_epoch"]}
        assert after and sorted(first["removed"]) == sorted(after), "exactly the blobs written after the point went"
        # the numbers: every blob by the point intact, the later ones gone, RTO = the restore's duration
        blob = card.blob
        assert blob.canary_writes == len(blobs) and blob.expected_writes == len(blobs) - len(after)
        assert blob.lost_writes == blob.extra_writes == blob.corrupted_writes == blob.unreadable_writes == 0
        assert blob.rpo_seconds == 0.0
        wall = first["completed_at_epoch"] - first["requested_at_epoch"]
        assert blob.rto_seconds == pytest.approx(wall * SCALE, abs=0.5 * SCALE)
        # the undo: the range restored to the moment before the request, so the later blobs are back
        assert back["time_to_restore_epoch"] < first["requested_at_epoch"] and sorted(back["restored"]) == sorted(after)
        name = sorted(after)[0]
        assert client.get(f"{ctx.service_url}/api/blobs/{name}").status_code == 200
        assert blob.undone and card.passed, card.criteria
        assert {"blob_restore_within_rto", "blob_data_loss_within_rpo", "blob_restored_data_verified",
                "blob_range_restored_back"} <= set(card.criteria)
        assert card.to_json("r")["stores"]["blob"]["rto_seconds"] == blob.rto_seconds
        assert [s.store for s in card.stores()] == ["sql", "blob"]


def test_a_blob_restore_that_misses_its_point_shows_as_extra_blobs_and_fails(start_sandbox, tmp_path):
    """A failed restore operation (injected) leaves the later blobs: the criteria say so."""
    sandbox = start_sandbox(pitr_base_seconds=0.2, pitr_seconds_per_gib=0.0, pitr_blob_base_seconds=0.2)
    sandbox.faults.add({"kind": "operation_failure", "operation": "blobRangesRestore", "code": "InternalError",
                        "message": "injected", "count": 1})
    with httpx.Client(timeout=2.0) as client:
        card = run_restore(make_ctx(sandbox, tmp_path, client)).card
    assert card.criteria["blob_restore_within_rto"].passed is False
    assert card.criteria["blob_restored_data_verified"].passed is False
    assert card.criteria["restored_data_verified"].passed is True, "the SQL store is scored on its own"
    assert not card.passed


def test_a_blob_restore_killed_before_its_outcome_is_restored_back_from_the_journal(start_sandbox, tmp_path):
    """Intent and operation are journaled before and as ARM accepts the POST: a process killed before
    the outcome leaves enough for a new one to reconcile ("happened") and restore the range back."""
    sandbox = start_sandbox(pitr_blob_base_seconds=0.3)
    with httpx.Client(timeout=2.0) as client:
        ctx = make_ctx(sandbox, tmp_path, client)
        point = datetime.now(timezone.utc)
        time.sleep(0.05)
        for i in range(3):
            assert client.put(f"{ctx.service_url}/api/blobs/{prefix_of(ctx)}{i}", content=b'{"n":1}').status_code == 201
        refused = wal.execute(ctx.journal, blob_step(ctx, point.replace(year=2000)), phase="restore", label="early",
                              migration="d1", client=client, clock=ctx.clock, target=ctx.target)
        assert refused.status == "failed" and "InvalidRestorePointInTime" in refused.detail
        step = blob_step(ctx, point)
        assert wal.execute(ctx.journal, step, phase="restore", label=step.name, migration="d1", client=client,
                           clock=ctx.clock, target=ctx.target).status == "ok"
        assert client.get(f"{ctx.service_url}/api/blobs/{prefix_of(ctx)}0").status_code == 404
        # the kill: everything after ARM accepted the restore is lost from the journal
        lines = (tmp_path / "journal.jsonl").read_text().splitlines(keepends=True)
        accepted = max(i for i, line in enumerate(lines) if '"operation_started"' in line)
        (tmp_path / "journal.jsonl").write_text("".join(lines[:accepted + 1]))
        journal = Journal(tmp_path / "journal.jsonl", ctx.clock)
        found = wal.reconcile(journal, target=ctx.target, migration="d1")
        assert [f.verdict for f in found] == ["happened"]
        again = RestoreContext(**{**ctx.__dict__, "journal": journal})
        assert [ok for _, ok in delete_copies(again, phase="rollback")] == [True]
        assert client.get(f"{ctx.service_url}/api/blobs/{prefix_of(ctx)}0").status_code == 200
        assert len(sandbox.world.blob_restore_report()) == 2, "one restore, one restore-back; the refused one never ran"
        assert delete_copies(again, phase="rollback") == [], "an undo that succeeded never runs again"


@pytest.mark.parametrize("ranges, why", [
    ([{"start": "", "end": "odin-canary0"}], "at least 1 character"),  # an empty end would reach the whole account
    ([{"start": "b/", "end": "a/"}], "must sort before end"),
    ([], "at least 1 item"),
])
def test_a_blob_restore_step_never_restores_an_open_or_empty_range(ranges: list, why: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    from odin_drills.plan.steps import Step

    with pytest.raises(ValidationError, match=why):
        TypeAdapter(Step).validate_python({"kind": "azure.storage.blob.restore", "name": "r", "account": "acc",
                                           "resource_group": "rg", "ranges": ranges,
                                           "restore_point": "2026-11-30T12:00:00Z"})
