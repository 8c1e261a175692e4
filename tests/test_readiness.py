"""The operational readiness review (issue 13): `odin readiness`, `odin attest`, journaled at T-1w,
blocking items gate T-0, and the evidence odin reads itself (Prometheus rules, Alertmanager
routing, the drill history, restore scorecards, smoke journeys, undo targets).

Real CLI, real Prefect server, the demo service, real Prometheus and Alertmanager on 127.0.0.1.
"""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import yaml

from odin_drills.plan.models import Plan
from odin_drills.plan.readiness import ITEMS
from tests.conftest import run_odin
from tests.test_migration_e2e import journal, kinds, migrate, shop, write_plan  # noqa: F401 - shop is a fixture


def _with_readiness(plan: Path, readiness: dict) -> Path:
    data = yaml.safe_load(plan.read_text())
    data["readiness"] = readiness
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    return plan


def test_the_checklist_is_the_handbooks() -> None:
    handbook = (Path(__file__).resolve().parents[2] / "shared" / "SRE-HANDBOOK.md")
    counts = {area: sum(1 for i in ITEMS if i.area == area) for area in dict.fromkeys(i.area for i in ITEMS)}
    assert counts == {"Observability": 6, "Reliability": 6, "Disaster Recovery": 5, "Security": 5,
                      "Change Management": 5, "Documentation": 5}
    if handbook.exists():  # the items word for word
        text = handbook.read_text()
        assert all(f"- [ ] {item.text}\n" in text for item in ITEMS)


def test_a_missing_item_blocks_t0_until_attested(tmp_path: Path, odin_env: dict, shop) -> None:
    plan = _with_readiness(write_plan(tmp_path, shop.router_url),
                           {"blocking": ["observability.alerts", "reliability.health-checks"]})
    review = run_odin(["readiness", str(plan)], env=odin_env, timeout=60)
    assert review.returncode == 2, review.stderr
    assert "Traceback" not in review.stderr
    problems = [line for line in review.stderr.splitlines() if line.startswith("odin: error:")]
    assert len(problems) == 1  # the health check is met (the smoke journey answers): only the alerts item
    assert "observability.alerts" in problems[0] and "odin attest" in problems[0]
    assert "[met]" in review.stdout and "reliability.health-checks (blocking)" in review.stdout

    week = migrate(plan, odin_env, "--phase", "t-1w")
    assert week.returncode == 0, week.stderr[-2000:]
    reviewed = kinds(journal(odin_env, "shop-move"), "readiness")
    assert reviewed[-1]["phase"] == "t-1w" and reviewed[-1]["data"]["blocking_unmet"] == ["observability.alerts"]
    assert len(reviewed[-1]["data"]["items"]) == 32

    refused = migrate(plan, odin_env, "--phase", "t0")
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "observability.alerts" in refused.stderr and "odin attest" in refused.stderr
    assert shop.weights() == {"blue": 100, "green": 0}  # refused before touching anything
    entries = journal(odin_env, "shop-move")
    assert not kinds(entries, "step_intent")
    assert kinds(entries, "readiness")[-1]["phase"] == "t0"

    attest = run_odin(["attest", str(plan), "observability.alerts", "--by", "Ada Lovelace",
                       "--evidence", "https://grafana.example/alerting/shop?token=s3cr3tvalue123456"], env=odin_env)
    assert attest.returncode == 0, attest.stderr
    file = Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move" / "attestations.jsonl"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert "s3cr3tvalue123456" not in file.read_text()  # evidence is redacted before it is written

    again = run_odin(["readiness", str(plan), "--json"], env=odin_env, timeout=60)
    assert again.returncode == 0, again.stderr
    shown = json.loads(again.stdout)
    alerts = next(i for i in shown["items"] if i["id"] == "observability.alerts")
    assert alerts["status"] == "attested" and alerts["by"] == "Ada Lovelace" and shown["blocking_unmet"] == []

    go = migrate(plan, odin_env, "--phase", "t0")
    assert go.returncode == 0, go.stderr[-2000:]
    assert shop.weights() == {"blue": 0, "green": 100}
    folder = Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move"
    report = (folder / (folder / "current").read_text().strip() / "report.md").read_text()
    assert "## Operational readiness" in report and "Ada Lovelace" in report and "attested" in report
    html = (folder / (folder / "current").read_text().strip() / "report.html").read_text()
    assert 'id="readiness"' in html and "Ada Lovelace" in html


def test_bad_readiness_input_is_one_line_exit_2(tmp_path: Path, odin_env: dict) -> None:
    plan = _with_readiness(write_plan(tmp_path, "http://127.0.0.1:9"), {"blocking": ["observability.alert"]})
    checked = run_odin(["validate", str(plan)], env=odin_env, timeout=60)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert "readiness.blocking" in checked.stderr and "observability.alerts" in checked.stderr  # the near miss
    plan = _with_readiness(plan, {})
    wrong = run_odin(["attest", str(plan), "docs.nothing", "--by", "x", "--evidence", "y"], env=odin_env, timeout=60)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "docs.nothing" in wrong.stderr


def _plan(**extra: object) -> Plan:
    data = {"name": "shop-move", "environment": "shop", "service": {"name": "shop"},
            "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/"}, "observe_only": True, **extra}
    return Plan.model_validate(data)


def _item(result, item_id: str):
    return next(i for i in result.items if i.id == item_id)


def test_dr_items_come_from_the_drill_history_and_restore_scorecards(tmp_path: Path, monkeypatch) -> None:
    from odin_drills.home import drills_dir
    from odin_drills.steps.dr.history import DrillHistory
    from odin_drills.steps.dr.restore import RestoreScorecard
    from odin_drills.steps.dr.scorecard import Criterion, Scorecard
    from odin_drills.steps.readiness import Inputs, review

    monkeypatch.setenv("ODIN_HOME", str(tmp_path / "home"))
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)  # the review's clock: a double for time
    ok = Criterion(passed=True, evidence="ok")

    def card(drill_id: str, days_ago: float, rto_ok: bool = True) -> Scorecard:
        criteria = {n: ok for n in ("failover_within_rto", "data_loss_within_rpo", "critical_journeys_in_dr_region",
                                    "failback_completed", "no_data_corruption")}
        criteria["failover_within_rto"] = Criterion(passed=rto_ok, evidence="rto")
        return Scorecard(plan="dr-quarterly", drill_id=drill_id, scored_at=now - timedelta(days=days_ago),
                         outage_started_at=now - timedelta(days=days_ago, hours=1), rto_seconds=600,
                         rto_target_seconds=14400, detect_seconds=60, decide_seconds=60, recover_seconds=480,
                         rpo_seconds=0, rpo_target_seconds=900, consecutive_successes=3, canary_writes=10,
                         lost_writes=0, failed_writes=0, corrupted_writes=0, unreadable_writes=0, criteria=criteria)

    plan = _plan(readiness={"dr_drills": ["dr-quarterly"], "restore_drills": ["restore-shop"], "restore_max_age": "30d"})
    with httpx.Client() as client:
        empty = review(Inputs(plan, client, now=now), attestations={})
        assert _item(empty, "dr.failover").status == "unmet" and _item(empty, "dr.failover").how == "auto"
        history = DrillHistory(drills_dir())
        history.record(card("old", 120))  # passed, but outside 90 days
        history.record(card("missed-rto", 10, rto_ok=False))
        stale = review(Inputs(plan, client, now=now), attestations={})
        assert _item(stale, "dr.failover").status == "unmet"  # the fresh one failed, the passing one is stale
        assert _item(stale, "dr.rto-rpo").status == "unmet"
        history.record(card("good", 5))
        fresh = review(Inputs(plan, client, now=now), attestations={})
        assert _item(fresh, "dr.failover").status == "met" and "dr-quarterly/good" in _item(fresh, "dr.failover").evidence
        assert _item(fresh, "dr.rto-rpo").status == "met"
        assert _item(fresh, "dr.restore").status == "unmet" and "no restore drill" in _item(fresh, "dr.restore").evidence

        folder = drills_dir("restore-shop") / "20261125T000000Z-abcd"
        folder.mkdir(parents=True)
        restore = RestoreScorecard(plan="restore-shop", drill_id=folder.name, scored_at=now - timedelta(days=5),
                                   source_database="orders", restored_database="orders-copy", restore_point=None,
                                   rto_seconds=120, rto_target_seconds=1800, rpo_seconds=2, rpo_target_seconds=5,
                                   canary_writes=20, expected_writes=18, lost_writes=0, extra_writes=0,
                                   corrupted_writes=0, unreadable_writes=0, copy_deleted=True,
                                   criteria={"restore_within_rto": {"passed": True, "evidence": "ok"}})
        (folder / "scorecard.json").write_text(restore.model_dump_json())
        restored = review(Inputs(plan, client, now=now), attestations={})
        assert _item(restored, "dr.restore").status == "met" and _item(restored, "dr.backup").status == "met"
        later = review(Inputs(plan, client, now=now + timedelta(days=40)), attestations={})
        assert _item(later, "dr.restore").status == "unmet"  # older than restore_max_age


def test_alert_rules_and_routing_are_read_from_prometheus_and_alertmanager(tmp_path: Path) -> None:
    from tests.monitoring_servers import alertmanager, prometheus

    from odin_drills.steps.readiness import Inputs, review

    rule = {"alert": "ShopErrors", "expr": "vector(0) > 1", "labels": {"severity": "critical", "service": "shop"}}
    with alertmanager(tmp_path / "am") as am, prometheus(tmp_path / "prom-empty", {}) as bare, \
            prometheus(tmp_path / "prom", {}, rules=[rule]) as ruled:
        def plan(url: str) -> Plan:
            return _plan(metrics={"kind": "prometheus", "url": url, "requests": "sum(up)", "errors": "sum(up)"},
                         alerts={"kind": "alertmanager", "url": am, "filter": ['service="shop"']})

        with httpx.Client() as client:
            missing = review(Inputs(plan(bare), client), attestations={})
            found = review(Inputs(plan(ruled), client), attestations={})
    alerts = _item(missing, "observability.alerts")
    assert alerts.status == "unmet" and alerts.how == "auto" and "no alerting rules" in alerts.evidence
    assert _item(found, "observability.alerts").status == "met"
    assert "ShopErrors" in _item(found, "observability.alerts").evidence
    routing = _item(found, "observability.alert-routing")  # the test Alertmanager routes to a receiver of nobody
    assert routing.status == "unmet" and "notifies nobody" in routing.evidence
    assert _item(found, "reliability.slos").how == "attest"  # no slo: in the plan: a person must say so


def test_without_a_source_the_items_need_an_attestation(tmp_path: Path, monkeypatch) -> None:
    from odin_drills.steps.attestations import record_attestation
    from odin_drills.steps.readiness import Inputs, review

    monkeypatch.setenv("ODIN_HOME", str(tmp_path / "home"))
    plan = _plan(readiness={"blocking": ["security.contacts"], "attestation_max_age": "7d"})
    with httpx.Client() as client:
        before = review(Inputs(plan, client))
        assert [i.id for i in before.blocking_unmet()] == ["security.contacts"]
        assert {i.how for i in before.items if i.id.startswith("security.")} == {"attest"}
        record_attestation("shop-move", "security.contacts", by="Grace", evidence="https://wiki/contacts",
                           at=datetime.now(timezone.utc) - timedelta(days=8))
        assert [i.id for i in review(Inputs(plan, client)).blocking_unmet()] == ["security.contacts"]  # too old
        record_attestation("shop-move", "security.contacts", by="Grace", evidence="https://wiki/contacts")
        after = review(Inputs(plan, client))
    item = _item(after, "security.contacts")
    assert item.status == "attested" and item.by == "Grace" and after.blocking_unmet() == []


def test_a_healthy_rollback_rehearsal_proves_rollback_tested(tmp_path: Path, monkeypatch) -> None:
    from odin_drills.home import migrations_dir
    from odin_drills.steps.clock import ManualClock
    from odin_drills.steps.journal import Journal
    from odin_drills.steps.readiness import Inputs, review

    monkeypatch.setenv("ODIN_HOME", str(tmp_path / "home"))
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    plan = _plan(readiness={"rollback_rehearsals": ["shop-move-sandbox"], "rehearsal_max_age": "30d"})
    folder = migrations_dir("shop-move-sandbox")
    degraded = Journal(folder / "20261120T000000Z-aaaa" / "journal.jsonl", ManualClock(now - timedelta(days=10)))
    degraded.append("rollback_finished", phase="t0", healthy=False, detail="some undos failed")
    with httpx.Client() as client:
        assert _item(review(Inputs(plan, client, now=now), attestations={}), "change.rollback-tested").status == "unmet"
        good = Journal(folder / "20261125T000000Z-bbbb" / "journal.jsonl", ManualClock(now - timedelta(days=5)))
        good.append("rollback_finished", phase="t0", healthy=True, detail="every undo succeeded")
        item = _item(review(Inputs(plan, client, now=now), attestations={}), "change.rollback-tested")
        assert item.status == "met" and "20261125T000000Z-bbbb" in item.evidence
        stale = _item(review(Inputs(plan, client, now=now + timedelta(days=40)), attestations={}),
                      "change.rollback-tested")
        assert stale.status == "unmet"


def test_the_prefect_form_flow_records_an_attestation(tmp_path: Path, odin_env: dict) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    plan = write_plan(tmp_path, "http://127.0.0.1:9")
    code = ("import json, sys; from odin_drills.flows.attest import readiness_attest; "
            "print(json.dumps(readiness_attest(plan_file=sys.argv[1], item='docs.escalation', by='Grace Hopper', "
            "evidence='https://wiki.example/shop/escalation')))")
    done = subprocess.run([sys.executable, "-c", code, str(plan)], cwd=ROOT, env=odin_env, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["by"] == "Grace Hopper"
    wrong = subprocess.run([sys.executable, "-c", code.replace("docs.escalation", "docs.nothing"), str(plan)], cwd=ROOT,
                           env=odin_env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert wrong.returncode != 0  # the form's item is a choice: anything else is refused by the flow
    shown = json.loads(run_odin(["readiness", str(plan), "--json"], env=odin_env, timeout=60).stdout)
    item = next(i for i in shown["items"] if i["id"] == "docs.escalation")
    assert item["status"] == "attested" and item["by"] == "Grace Hopper"
