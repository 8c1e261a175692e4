"""Restore drills in the drill history, and the retrospective in the restore reports and in HTML.

Scorecards are built directly (real models, real templates, a real history file on disk): the
restore drill that produced such numbers end to end is ``tests/test_restore_drill_e2e.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from odin_drills.reports.html import render_html
from odin_drills.reports.restore import render_restore_markdown
from odin_drills.reports.retrospective import retrospective
from odin_drills.steps.dr.blob_restore import StoreScore
from odin_drills.steps.dr.history import DrillHistory
from odin_drills.steps.dr.restore import RestoreScorecard
from odin_drills.steps.dr.scorecard import Criterion, Scorecard

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
OK = Criterion(passed=True, evidence="ok")


def restore_card(drill_id: str, at: datetime, *, blob_rpo: float, sql_rto: float) -> RestoreScorecard:
    blob_ok = blob_rpo <= 900
    criteria = {n: OK for n in ("restore_within_rto", "data_loss_within_rpo", "restored_data_verified",
                                "restored_copy_deleted", "blob_restore_within_rto", "blob_restored_data_verified",
                                "blob_range_restored_back")}
    criteria["blob_data_loss_within_rpo"] = Criterion(passed=blob_ok, evidence=f"span {blob_rpo:g} s vs target 900 s")
    blob = StoreScore(store="blob", resource="/subscriptions/s/providers/Microsoft.Storage/storageAccounts/a",
                      restored="in place: [odin-canary/x/, odin-canary/x0)", restore_point=at, rto_seconds=40.0,
                      rto_target_seconds=14400.0, rpo_seconds=blob_rpo, rpo_target_seconds=900.0, canary_writes=50,
                      expected_writes=40, lost_writes=0 if blob_ok else 3, extra_writes=0, corrupted_writes=0,
                      unreadable_writes=0, undone=True)
    return RestoreScorecard(
        plan="restore-shop", drill_id=drill_id, scored_at=at, source_database="/subscriptions/s/db",
        restored_database="orders-restore", restore_point=at, rto_seconds=sql_rto, rto_target_seconds=1800.0,
        rpo_seconds=2.0, rpo_target_seconds=5.0, canary_writes=60, expected_writes=50, lost_writes=4,
        extra_writes=0, corrupted_writes=0, unreadable_writes=0, copy_deleted=True, criteria=criteria, blob=blob)


def region_card(drill_id: str) -> Scorecard:
    return Scorecard(plan="shop-dr", drill_id=drill_id, scored_at=NOW, outage_started_at=NOW, rto_seconds=900,
                     rto_target_seconds=14400, detect_seconds=60, decide_seconds=0, recover_seconds=840, rpo_seconds=0,
                     rpo_target_seconds=900, consecutive_successes=3, canary_writes=50, lost_writes=0, failed_writes=0,
                     corrupted_writes=0, unreadable_writes=0,
                     criteria={"failover_within_rto": OK, "data_loss_within_rpo": Criterion(passed=False, evidence="x")})


def test_restore_drills_join_the_history_with_their_stores_and_region_drills_keep_theirs(tmp_path: Path) -> None:
    history = DrillHistory(tmp_path)
    history.record(restore_card("r1", NOW - timedelta(days=90), blob_rpo=1200, sql_rto=300))
    history.record(restore_card("r2", NOW, blob_rpo=0, sql_rto=120))
    history.record(region_card("q1"))
    trend = history.trend("restore-shop")
    assert [(p.drill_id, p.kind, p.passed) for p in trend] == [("r1", "restore", False), ("r2", "restore", True)]
    assert trend[0].stores["blob"].rpo_seconds == 1200 and trend[0].stores["sql"].rto_seconds == 300
    assert trend[0].failed_criteria == ["blob_data_loss_within_rpo"]
    assert history.scorecards("restore-shop") == [], "the readiness review's DR-drill evidence stays region drills"
    region = history.trend("shop-dr")
    assert [(p.drill_id, p.kind, p.stores) for p in region] == [("q1", "region-failover", {})]
    assert [c.drill_id for c in history.scorecards("shop-dr")] == ["q1"]


def test_the_restore_report_has_the_trend_per_store_and_the_retrospective(tmp_path: Path) -> None:
    history = DrillHistory(tmp_path)
    history.record(restore_card("r1", NOW - timedelta(days=90), blob_rpo=1000, sql_rto=300))
    card = restore_card("r2", NOW, blob_rpo=1200, sql_rto=120)
    history.record(card)
    trend = history.trend("restore-shop", exclude="r2")
    retro = retrospective([], card, trend)
    report = render_restore_markdown([], card, outcome="criteria_failed", outcome_text="a criterion was missed",
                                     trend=trend, retro=retro)
    assert "| blob RTO (request → blob range restored) | 40s | 4h | ✓ met |" in report
    assert "| blob RPO (blobs acknowledged by the point, missing) | 20m | 15m | ✗ missed |" in report
    numbers, after = report.split("## Trend over earlier restore drills", 1)
    assert "| sql RTO | sql RPO | blob RTO | blob RPO |" in after.split("\n\n", 2)[1]
    assert "| `r1` | 2026-09-01 12:00 | 5m | 2s | 40s | 16m 40s | ✗ | blob_data_loss_within_rpo |" in after
    retro_text = report.split("## Retrospective", 1)[1].split("## Timeline", 1)[0]
    assert "criterion missed: blob_data_loss_within_rpo — span 1200 s vs target 900 s" in retro_text
    assert "blob_data_loss_within_rpo: missed in 1 of the 1 earlier drill(s) as well" in retro_text
    assert "sql RTO: 2m now vs 5m in drill `r1` (better)" in retro_text
    assert "blob RPO: 20m now vs 16m 40s in drill `r1` (worse)" in retro_text
    assert "| criterion missed: blob_data_loss_within_rpo — span 1200 s vs target 900 s |  |  |  |  |" in retro_text


def test_the_html_report_carries_the_retrospective_when_given_one() -> None:
    card = restore_card("r2", NOW, blob_rpo=1200, sql_rto=120)
    retro = retrospective([], card, [])
    html = render_html([], title="Restore drill report: restore-shop", scorecard=card.to_report(), retro=retro)
    section = html.split('<section id="retrospective">', 1)[1].split("</section>", 1)[0]
    assert "criterion missed: blob_data_loss_within_rpo — span 1200 s vs target 900 s" in section
    assert "<th>gap</th><th>action</th><th>owner</th><th>due</th><th>procedure updated</th>" in section
    assert '<a href="#retrospective">Retrospective</a>' in html
    assert "blob rpo_seconds" in html, "the blob store's numbers are in the scorecard section"
    clean = render_html([], scorecard=region_card("q1").to_report(),
                        retro=retrospective([], None, []))
    assert "None recorded" in clean.split('<section id="retrospective">', 1)[1]
    assert '<section id="retrospective">' not in render_html([], scorecard=card.to_report())


def test_journal_text_in_the_retrospective_is_escaped_and_redacted() -> None:
    retro = {"gaps": ["action failed: step — <script>x</script> password=hunter2"], "recurring": [],
             "movement": [], "actions": ["<b>gap</b>"]}
    html = render_html([], scorecard={"criteria": {}}, retro=retro)
    section = html.split('<section id="retrospective">', 1)[1]
    assert "<script>" not in section and "&lt;script&gt;" in section and "hunter2" not in section
