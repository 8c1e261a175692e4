"""``odin drill`` / ``odin rollback`` / ``odin validate`` on a restore drill (``kind: restore``), end to end:
the real CLI in a subprocess, the real Prefect server, the sandbox over HTTPS with the real SDK.

(a) the shipped drill file runs on a sandbox it starts itself: restore RTO/RPO scored per store (SQL, blobs),
    report written;
(b) against a sandbox this test owns: the drill's lost writes are exactly the sandbox's ground truth;
(c) a drill SIGKILLed while the restore is in flight: ``odin rollback`` deletes the copy and restores the
    blob range back (nothing orphaned);
(d) bad input: one line naming the file and the field, exit 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ODIN, ROOT, run_odin

SHIPPED = ROOT / "drills" / "restore-sandbox.yaml"


@pytest.fixture
def own_sandbox(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    from odin_drills.sandbox.azure import AzureSandbox

    options = getattr(request, "param", {})
    sandbox = AzureSandbox(state_dir=tmp_path / "sandbox", seed=0, replication_lag_seconds=1.0, lro_retry_after=0,
                           probe_interval_seconds=0.1, probe_timeout_seconds=0.5, **options)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def drill_file(tmp_path: Path, **restore: Any) -> Path:
    data = yaml.safe_load(SHIPPED.read_text())
    data["name"] = "restore-e2e"
    data["environment"] = "restore-e2e-env"
    data["restore"] = {**data["restore"], "warm_up": "10s", **restore}
    path = tmp_path / "restore-e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def journal(report_or_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (report_or_dir / "journal.jsonl").read_text().splitlines() if line.strip()]


def test_a_the_shipped_restore_drill_runs_and_scores_restore_rto_and_rpo(odin_env: dict[str, str]) -> None:
    env = {k: v for k, v in odin_env.items() if k != "ODIN_SANDBOX_INFO"}
    done = run_odin(["drill", str(SHIPPED), "--time-scale", "5", "--json"], env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads(done.stdout)
    assert card["kind"] == "restore" and card["rto_target_seconds"] == 1800 and card["rpo_target_seconds"] == 5
    assert 0 < card["rto_seconds"] <= 1800 and card["rpo_seconds"] is not None and card["rpo_seconds"] <= 5
    assert card["canary_writes"] > card["expected_writes"] > 0 and card["copy_deleted"] is True
    assert all(card["criteria"].values()), card["criteria"]
    blob = card["stores"]["blob"]  # the shipped file restores the storage account's blobs too
    assert blob["rto_target_seconds"] == 4 * 3600 and blob["rpo_target_seconds"] == 900
    assert blob["canary_writes"] > blob["expected_writes"] > 0 and blob["rpo_seconds"] == 0.0 and blob["undone"]
    assert card["criteria"]["blob_range_restored_back"] is True
    report = Path(card["report"]).read_text()
    assert "## Restore RTO and RPO" in report and "✓ met" in report and "restored_copy_deleted" in report
    html = (Path(card["report"]).parent / "report.html").read_text()
    assert "Restore drill report" in html and "restore_within_rto" in html
    # the retrospective, in both reports; this drill is now in the plan's history
    assert "## Retrospective" in report and "| gap | action | owner | due | procedure updated |" in report
    assert '<section id="retrospective">' in html and "blob_range_restored_back" in html
    history = Path(env["ODIN_HOME"]) / "drills" / "restore-sandbox.jsonl"
    assert card["report"].split("/")[-2] in history.read_text()


@pytest.mark.parametrize("own_sandbox", [{"pitr_log_lag_seconds": 1.0, "pitr_base_seconds": 0.5,
                                          "pitr_seconds_per_gib": 0.0}], indirect=True)
def test_b_the_drills_lost_writes_are_the_sandboxs_ground_truth(own_sandbox: Any, odin_env: dict[str, str],
                                                                tmp_path: Path) -> None:
    env = {**odin_env, "ODIN_SANDBOX_INFO": str(tmp_path / "sandbox" / "sandbox.json")}
    done = run_odin(["drill", str(drill_file(tmp_path)), "--time-scale", "5", "--json"], env=env, timeout=240)
    assert done.returncode in (0, 3), done.stderr[-3000:]
    card = json.loads(done.stdout)
    entries = journal(Path(card["report"]).parent)
    verified = next(e for e in entries if e["kind"] == "restore_verified")["data"]
    op = next(o for o in own_sandbox.operations() if o["operation"] == "databasePointInTimeRestore")
    point = datetime_epoch(card["restore_point"])
    truth = {w["id"] for w in own_sandbox.writes()
             if w["kind"] == "order" and op["time_epoch"] - 1.0 < w["acknowledged_at_epoch"] <= point}
    assert truth and set(verified["lost_ids"]) == truth and card["lost_writes"] == len(truth)
    assert card["extra_writes"] == 0 and card["copy_deleted"]
    assert own_sandbox.world.restore_report() == []
    sql_ops = [o["operation"] for o in own_sandbox.operations() if o["result"] == "Succeeded" and "Sql" in o["resource_id"]]
    assert sql_ops[-1] == "databaseDelete"
    # the blobs: exactly those acknowledged after the blob point were removed, then restored back
    blob_point = datetime_epoch(card["stores"]["blob"]["restore_point"])
    first, back = own_sandbox.world.blob_restore_report()
    later = {w["key"] for w in own_sandbox.writes() if w["kind"] == "blob" and w["acknowledged_at_epoch"] > blob_point}
    assert later and set(first["removed"]) == later and set(back["restored"]) == later
    blob_verified = next(e for e in entries if e["kind"] == "blob_restore_verified")["data"]
    assert blob_verified["lost"] == blob_verified["extra"] == 0 and blob_verified["verified"] == blob_verified["expected"]


def datetime_epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("own_sandbox", [{"pitr_base_seconds": 6.0, "pitr_seconds_per_gib": 0.0}], indirect=True)
def test_c_a_drill_killed_mid_restore_leaves_no_copy_after_odin_rollback(own_sandbox: Any, odin_env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    env = {**odin_env, "ODIN_SANDBOX_INFO": str(tmp_path / "sandbox" / "sandbox.json")}
    plan = drill_file(tmp_path)
    proc = subprocess.Popen([*ODIN, "drill", str(plan), "--time-scale", "5"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        folder = Path(env["ODIN_HOME"]) / "drills" / "restore-e2e"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = sorted(folder.glob("*/journal.jsonl")) if folder.is_dir() else []
            if runs and any('"operation_started"' in line and "begin_create_or_update" in line
                            for line in runs[-1].read_text().splitlines()):
                break
            assert proc.poll() is None, "the drill ended before its restore started"
            time.sleep(0.05)
        else:
            pytest.fail("the restore never started")
        os.killpg(proc.pid, signal.SIGKILL)  # the drill's own process group, by its PID
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert [r["status"] for r in own_sandbox.world.restore_report()] == ["Creating"], "the copy is being made"
    done = run_odin(["rollback", str(plan), "--reason", "drill killed", "--by", "test"], env=env, timeout=180)
    assert done.returncode == 3, done.stdout + done.stderr[-3000:]
    assert own_sandbox.world.restore_report() == [], "odin rollback deleted the copy"
    entries = journal(sorted(folder.glob("*/journal.jsonl"))[-1].parent)
    assert [e["data"]["verdict"] for e in entries if e["kind"] == "step_reconciled"] == ["happened"]
    # both undos were still to run at the kill: the copy's delete and the blob range's restore-back
    assert [e["data"]["status"] for e in entries if e["kind"] == "undo_finished"] == ["ok", "ok"]
    assert [r["status"] for r in own_sandbox.world.blob_restore_report()] == ["Complete", "Complete"]
    again = run_odin(["rollback", str(plan), "--reason", "again", "--by", "test"], env=env, timeout=120)
    assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stdout + again.stderr


def test_d_bad_restore_drills_get_one_line_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: r\nenvironment: e\nkind: restore\nrestore: {restored_name: 'a/{nope}'}\n")
    done = run_odin(["validate", str(bad)])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "restore.restored_name" in lines[0], lines
    drill = run_odin(["drill", str(bad)])
    assert drill.returncode == 2 and "restore.restored_name" in drill.stderr
    blob = tmp_path / "bad-blob.yaml"
    blob.write_text("name: r\nenvironment: e\nkind: restore\nblob_restore: {write_path: /api/blobs}\n")
    done = run_odin(["validate", str(blob)])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "blob_restore.write_path" in lines[0] and "{name}" in lines[0]
    azure = tmp_path / "azure-blob.yaml"
    azure.write_text("name: r\nenvironment: e\nkind: restore\ntarget: {kind: azure, subscription_id: s}\n"
                     "endpoints: {service: 'https://shop.example.com'}\nrestore: {source_database: "
                     "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/v/databases/d}\nblob_restore: {}\n")
    done = run_odin(["validate", str(azure)])
    assert done.returncode == 2 and "blob_restore.account" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    ok = run_odin(["validate", str(SHIPPED)])
    assert ok.returncode == 0 and "restore drill restore-sandbox" in ok.stdout
