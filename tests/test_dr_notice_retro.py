"""DR test programme, issue 13: the test-window notice arrives before the drill's outage, and the
drill report carries a retrospective (gaps = criteria missed, actions to fill in, trend).

The drill is the real CLI in a subprocess against a sandbox this test owns; the notice goes to a
real webhook receiver on 127.0.0.1; the sandbox's fault list says when the outage was injected.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import ODIN, ROOT, run_odin
from tests.test_dr_programme import seed0_sandbox  # noqa: F401 - a fixture
from tests.webhook_receiver import WebhookReceiver


def _faults(sandbox: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{sandbox.info()['admin_url']}/faults", params={"include": "cleared"}, timeout=10).json()


def test_the_test_window_notice_arrives_before_the_outage(seed0_sandbox: Any, odin_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "drills" / "dr-programme-quarterly.yaml").read_text())
    with WebhookReceiver() as receiver:
        data["comms"] = {"channels": [{"name": "dr-test-window", "kind": "generic", "url": receiver.url("/notice")}],
                         "minutes": [0], "notice_before": "5m"}
        plan = tmp_path / "quarterly-with-notice.yaml"
        plan.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {**odin_env, "ODIN_SANDBOX_INFO": str(tmp_path / "sandbox" / "sandbox.json")}
        process = subprocess.Popen([*ODIN, "drill", str(plan), "--time-scale", "60", "--json", "--quiet"], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
        try:
            first = receiver.wait_for(1, "/notice", timeout=180)[0]
            injected_when_noticed = _faults(seed0_sandbox)  # the moment the notice arrived
            out, err = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        messages = [r.body for r in receiver.received("/notice")]
    assert process.returncode in (0, 3), err[-3000:]
    assert first.body["template"] == "notice" and "DR test window" in first.body["headline"]
    assert "no data loss expected" in first.body["fields"]["Expected impact"]  # kind: app, a planned failover
    assert injected_when_noticed == []  # nothing was broken yet when stakeholders heard
    assert _faults(seed0_sandbox), "the drill did inject its outage afterwards"
    assert [m["template"] for m in messages][:2] == ["notice", "initial"]
    card = json.loads(out)
    folder = Path(card["report"]).parent
    entries = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines() if line.strip()]
    notice = next(e for e in entries if e["kind"] == "comms" and e["data"]["template"] == "notice")
    injecting = next(e for e in entries if e["kind"] in ("outage_injecting", "outage_injected"))
    assert notice["seq"] < injecting["seq"]
    waited = datetime.fromisoformat(injecting["time"]) - datetime.fromisoformat(notice["time"])
    assert waited >= timedelta(minutes=5)  # the notice period, in plan time
    report = Path(card["report"]).read_text()
    assert "## Retrospective" in report and "| gap | action | owner | due |" in report
    assert "| dr-test-window | notice |" in report  # the notice in the stakeholder messages


def test_a_notice_without_a_channel_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "drills" / "dr-programme-quarterly.yaml").read_text())
    data["comms"] = {"channels": [], "notice_before": "1d"}
    plan = tmp_path / "no-channel.yaml"
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    done = run_odin(["validate", str(plan)], timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "comms" in done.stderr and "notice_before" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_retrospective_lists_gaps_recurring_across_drills_and_actions() -> None:
    from odin_drills.reports.drill import render_drill_markdown
    from odin_drills.steps.dr.history import TrendPoint
    from odin_drills.steps.dr.scorecard import Criterion, Scorecard

    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    ok = Criterion(passed=True, evidence="ok")
    criteria = {n: ok for n in ("failover_within_rto", "critical_journeys_in_dr_region", "failback_completed",
                                "no_data_corruption")}
    criteria["data_loss_within_rpo"] = Criterion(passed=False, evidence="3 acknowledged writes lost over 42 s")
    card = Scorecard(plan="dr", drill_id="now", scored_at=now, outage_started_at=now, rto_seconds=900,
                     rto_target_seconds=14400, detect_seconds=60, decide_seconds=0, recover_seconds=840,
                     rpo_seconds=42, rpo_target_seconds=0, consecutive_successes=3, canary_writes=50, lost_writes=3,
                     failed_writes=0, corrupted_writes=0, unreadable_writes=0, criteria=criteria)
    earlier = [TrendPoint(drill_id="q2", scored_at=now - timedelta(days=90), rto_seconds=1200, rto_target_seconds=14400,
                          rpo_seconds=30, rpo_target_seconds=0, passed=False, failed_criteria=["data_loss_within_rpo"])]
    report = render_drill_markdown([], card, earlier, outcome="criteria_failed", outcome_text="a criterion was missed")
    retro = report.split("## Retrospective", 1)[1]
    assert "criterion missed: data_loss_within_rpo — 3 acknowledged writes lost over 42 s" in retro
    assert "data_loss_within_rpo: missed in 1 of the 1 earlier drill(s) as well" in retro
    assert "RTO: 15m now vs 20m in drill `q2` (better)" in retro and "(worse)" in retro  # RPO 42 s vs 30 s
    assert "| criterion missed: data_loss_within_rpo" in retro  # a row of the action table to fill in
    clean = render_drill_markdown([], None, [], outcome="passed", outcome_text="ok").split("## Retrospective", 1)[1]
    assert "- none recorded" in clean and "no gap found" in clean
