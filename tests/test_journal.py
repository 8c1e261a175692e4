"""Typed journal entries: every kind round-trips into its model, bad entries are refused at write
time (naming kind and field), older and torn journals are still read."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import (
    Entry,
    Journal,
    JournalEntryInvalid,
    LegacyRecord,
    read_journal,
    read_journal_contents,
)
from odin_drills.steps.journal_entries import RECORDS, ScorecardRecord
from odin_drills.steps.redact import is_secret_key
from odin_drills.steps.rollback import pending_undos, undo_completed

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
AT = "2026-03-02T09:05:00+00:00"
SNAPSHOT = {"requests": 1000, "errors": 20, "latency_ms": {"p95": 210.0}}
DECISION = {"decision": "proceed", "reasons": ["within the ladder"], "metrics": {}}
UNDO = {"kind": "http", "method": "POST", "url": "http://127.0.0.1:9/undo", "expect_status": 200}
SCORECARD = {
    "plan": "orders", "drill_id": "20260302T090000Z-ab12", "scored_at": AT, "outage_started_at": AT,
    "rto_seconds": 840.0, "rto_target_seconds": 900.0, "detect_seconds": 60.0, "decide_seconds": 1.0,
    "recover_seconds": 779.0, "rpo_seconds": 3.2, "rpo_target_seconds": 5.0, "consecutive_successes": 3,
    "canary_writes": 400, "lost_writes": 2, "failed_writes": 9, "corrupted_writes": 0, "unreadable_writes": 0,
    "replication": {"replication_lag_seconds": 1.5, "replication_state": "CATCH_UP", "storage_last_sync_time": None},
    "criteria": {"RTO within target": {"passed": True, "evidence": "14m"}},
}

# (phase, step, fields) of one entry of each kind, with the fields its writers write
SAMPLES: dict[str, tuple[str | None, str | None, dict[str, Any]]] = {
    "run_started": (None, None, dict(plan="orders", migration="m1", phases=["t-1w", "t0"], time_scale=60.0,
                                     flow_run_id="f1", environment="prod")),
    "run_finished": (None, None, dict(outcome="completed", exit_code=0, detail="")),
    "phase_started": ("t0", None, {}),
    "phase_finished": ("t0", None, dict(outcome="ok")),
    "lock": (None, None, dict(action="acquired", environment="prod")),
    "note": ("t0", "fail-over", dict(message="stage 1/4", stage={"stage": 1}, data_at_risk={"summary": "5 s"},
                          fqdn="app.odin-demo.example")),
    "emergency": (None, None, dict(reason="hotfix for INC-42", by="alice", source="command line")),
    "policy": (None, None, dict(multipliers={"rollback": 2.0}, floors={"latency_ms": 5.0}, confidence=0.99,
                                anything_the_policy_has=True)),
    "step_started": ("t0", "switch-dns", dict(step_kind="http", changes_world=True)),
    "step_finished": ("t0", "switch-dns", dict(status="ok", detail="200 OK", undo=UNDO, undo_reason=None,
                                               output={"status": 200})),
    "step_intent": ("t0", "switch-dns", dict(attempt=1, migration="m1", step_kind="http", spec={"kind": "http"},
                                             observable=False, prior=None, undo=UNDO, undo_reason=None,
                                             change="would POST http://x")),
    "operation_started": ("t0", "fail-over", dict(attempt=1, operation="begin_failover", resource="/subscriptions/s",
                                                  continuation_token="eyJ2ZXJzaW9uIjoxfQ==", undo_of=None)),
    "step_reconciled": ("t0", "fail-over", dict(attempt=1, migration="m1", verdict="happened", how="polled",
                                                detail="followed", undo=UNDO, observed={"to_role": "Primary"})),
    "undo_check": ("t-1w", "switch-dns", dict(status="ok", detail="undo target reachable")),
    "undo_started": ("t0", "switch-dns", dict(undo_of=7, undo=UNDO)),
    "undo_finished": ("t0", "switch-dns", dict(undo_of=7, status="ok", attempts=2, detail="done")),
    "rollback_started": ("t0", None, dict(reason="step failed")),
    "rollback_finished": ("t0", None, dict(healthy=True, detail="every undo succeeded; re-check: proceed")),
    "baseline": ("t-1w", None, dict(snapshot=SNAPSHOT, window_seconds=3600.0, path="/tmp/baseline.json")),
    "smoke": ("t0", "after rollback", dict(report={"results": []}, critical_failed=0, noncritical_failed=1)),
    "gate": ("t0", "switch-dns", dict(window=1, decision=DECISION, snapshot=SNAPSHOT)),
    "decision": ("t0", "switch-dns", dict(action="proceed", reason="within baseline", by="odin")),
    "hold_started": ("t0", "move-writes", dict(hold="hold", reason="lag", default="rollback", deadline=AT,
                                               flow_run_id="f1", decide="odin decide f1 proceed|rollback", reopened=True)),
    "hold_interrupted": ("t0", "move-writes", dict(hold="hold", reason="lag", default="rollback", deadline=AT,
                                                   signal="SIGTERM", flow_run_id="f1",
                                                   resume="odin migrate plan.yaml --resume --migration m1")),
    "human_input": ("t0", "move-writes", dict(action="rollback", reason="lag", by="alice", at=AT)),
    "notify": ("t0", "announce", dict(url="<webhook-url ***>", status=200)),
    "comms": ("comms", None, dict(channel="ops", channel_kind="slack", template="initial", minute=0, status="sent",
                                  http_status=200, attempts=1, detail="answered 200", text="Outage")),
    "sandbox": (None, None, dict(action="reused", admin_url="https://127.0.0.1:1/admin",
                                 frontdoor_url="https://127.0.0.1:2", state_dir=None, arm_url="https://127.0.0.1:3",
                                 ca_cert="/tmp/ca.pem", subscription_id="sub-1")),
    "outage_injecting": ("detect", None, dict(region="westeurope", how="sandbox region_outage fault")),
    "outage_injected": ("detect", None, dict(region="westeurope", how="sandbox region_outage fault", fault_id="f-1",
                                             injected_at="2026-03-02T09:00:00Z", outage_started_at=AT)),
    "outage_cleared": ("failback", None, dict(region="westeurope", fault_id="f-1", cleared_at=None)),
    "probe_state": ("probes", None, dict(target="frontdoor", state="failing", status=503, error="503",
                                         served_by=None, previous="ok", previous_lasted_seconds=30.0,
                                         previous_probes=6)),
    "probe_summary": ("probes", None, dict(since=AT, rounds=12, targets={"frontdoor": {"ok": 10, "failed": 2,
                                                                                        "state": "ok"}})),
    "outage_confirmed": ("probes", None, dict(region="westeurope", first_failure_at=AT, confirmed_at=AT,
                                              failed_probes=4, last_error="timeout")),
    "outage_not_confirmed": ("probes", None, dict(region="westeurope", waited_seconds=300.0, glitches=1)),
    "service_health": ("decide", None, dict(region="eastus", reachable=True, error=None, event_id="SB_1-EAST",
                                            title="ACTIVE: Multiple services in East US", services=["SQL Database"],
                                            impact_started_at=AT, resolution_eta=AT, expected_outage_seconds=600.0,
                                            limit_seconds=1800.0, scope="full", unavailable=["odin-sql-eastus"],
                                            degraded=[], available=[])),
    "service_recovered": ("probes", None, dict(via="frontdoor", region="northeurope", first_success_at=AT,
                                               consecutive=3, healthy_for=0.0)),
    "canary_started": ("canary", None, dict(url="https://fd/api/orders", rate_per_second=5.0, payload_bytes=256)),
    "canary_state": ("canary", None, dict(state="failing", seq=40, reason="503", previous="acknowledging",
                                          previous_lasted_seconds=8.0, previous_writes=39)),
    "canary_stopped": ("canary", None, dict(attempted=400, acknowledged=391, failed_writes=9)),
    "canary_acknowledged": ("t0", "cut-over", dict(seq=2, write_id="1003", sha256="ab" * 32, run="0f3c9a2b7d11")),
    "canary_verified": ("canary", None, dict(acknowledged=391, verified=389, lost=2, corrupted=0, unreadable=0,
                                             lost_ids=["a", "b"], oldest_lost_ack=AT, newest_ack_before_failover=AT,
                                             newest_surviving_ack=None)),
    "replication": ("validate", None, dict(failover_groups={"fg": {"primary_region": "northeurope",
                                                                   "replication_state": "CATCH_UP"}},
                                           storage_accounts={}, errors=["x: HttpResponseError: no"])),
    "data_loss": ("validate", None, dict(region="northeurope", acknowledged=391, lost=2, lost_ids=["a", "b"],
                                         lost_writes=[{"id": "a", "seq": 3, "acked_at": AT}], corrupted=0,
                                         unreadable=0, failed_writes=9, rpo_seconds=3.2, failover_at=AT,
                                         acknowledged_ids=["a", "b", "c"], acknowledged_ids_truncated=False)),
    "failback_deferred": ("failback", "storage", dict(reason="geo-redundancy first")),
    "failback_window": ("failback", None, dict(action="wait", window="02:00–05:00 UTC (every day)", opens_at=AT,
                                               wait_seconds=3600.0, reason="outside failback.window", by=None)),
    "failover_check": ("validate", None, dict(verdict="restored", reason="every critical journey passes",
                                              broken=[])),
    "validation_criterion": ("validate", None, dict(criterion="alerts_green", passed=False,
                                                    evidence="1 Sev 0/1 alert(s) firing: HighErrorRate (Sev1)",
                                                    measured={"firing": [{"name": "HighErrorRate"}]})),
    "step_skipped": ("failover", "frontdoor og -> westus", dict(reason="the data tier did not fail over",
                                                               step_kind="azure.frontdoor.origins")),
    "phase_budget": ("failover", None, dict(budget_phase="failover", seconds=4210.5, budget_seconds=3600.0,
                                            within=False, elapsed_seconds=4500.0, projected_seconds=5400.0,
                                            rto_target_seconds=14400.0, rto_at_risk=False, rto_exceeded=False)),
    "scorecard": (None, None, SCORECARD),
    "restore_point": ("restore", None, dict(point=AT,
                                            requested_at=AT,
                                            point_before_request_seconds=0.0, source_database="/subscriptions/s/x",
                                            restored_database="orders-restore-d1")),
    "restore_verified": ("verify", None, dict(database="orders-restore-d1", acknowledged=60, expected=50, verified=45,
                                              lost=5, extra=0, corrupted=0, unreadable=0, failed_writes=0,
                                              lost_ids=["a"], extra_ids=[], rpo_seconds=4.8)),
    "blob_restore_point": ("restore", None, dict(point=AT, requested_at=AT, point_before_request_seconds=5.0,
                                                 account="/subscriptions/s/acc", ranges=[["c/d1/", "c/d10"]])),
    "blob_restore_verified": ("verify", None, dict(account="/subscriptions/s/acc", acknowledged=20, expected=15,
                                                   verified=15, lost=0, extra=0, corrupted=0, unreadable=0,
                                                   failed_writes=0, lost_ids=[], extra_ids=[], rpo_seconds=0.0)),
    "restore_scorecard": ("score", None, dict(
        plan="restore-sandbox", drill_id="d1", scored_at=AT,
        source_database="/subscriptions/s/x", restored_database="orders-restore-d1",
        restore_point=AT, rto_seconds=12.0, rto_target_seconds=1800.0,
        rpo_seconds=4.8, rpo_target_seconds=5.0, canary_writes=60, expected_writes=50, lost_writes=5,
        extra_writes=0, corrupted_writes=0, unreadable_writes=0, copy_deleted=True,
        criteria={"restore_within_rto": {"passed": True, "evidence": "12 s"}})),
    "readiness": ("t-1w", None, dict(
        items=[{"id": "observability.alerts", "area": "Observability", "text": "Alerts configured", "status": "unmet",
                "how": "attest", "evidence": "needs a person", "by": None, "at": None, "blocking": True}],
        met=0, attested=0, unmet=1, blocking_unmet=["observability.alerts"])),
    "slo_check": ("t+1h", None, dict(
        objective=99.9, met=False, since=AT, span_seconds=3600.0, detail="availability 99.5 % MISSES 99.9 %",
        windows={"requests": 1000, "errors": 5, "availability": 99.5, "windows": 12}, measured=None,
        unavailable="synthetic probe cannot look back", burn_rate=5.0, decided_by="the gates' windows")),
    "log_review": ("t+1h", None, dict(
        since=AT, errors=1, warnings=0, journal_errors=1, journal_warnings=0, prefect_errors=0, prefect_warnings=0,
        items=[{"source": "journal", "level": "error", "time": AT, "phase": "t0", "what": "step shift failed"}],
        not_listed=0, prefect_unavailable="the Prefect API did not answer within 5 s", detail="1 error(s)")),
    "incident_count": ("t+24h", None, dict(
        since=AT, count=1, sev0=0, sev1=1, lower=0, security=0, before=0, unavailable=None, detail="1 alert(s)",
        alerts=[{"fingerprint": "f1", "name": "HighErrorRate", "level": "sev1", "severity": "high", "security": False,
                 "first_seen": AT, "windows": 2, "how": "journal"}])),
}


def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl", ManualClock(START))


def test_every_kind_has_a_sample():
    assert set(SAMPLES) == set(RECORDS)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_round_trips_into_its_model(tmp_path: Path, kind: str):
    phase, step, fields = SAMPLES[kind]
    j = journal(tmp_path)
    seen: list[Entry] = []
    j.subscribe(seen.append)
    written = j.append(kind, phase=phase, step=step, **fields)
    assert isinstance(written.record, RECORDS[kind]) and seen == [written]
    for entries in (j.entries(), read_journal(j.path)):
        (entry,) = entries
        assert not entry.legacy, entry.record
        assert isinstance(entry.record, RECORDS[kind])
        assert (entry.kind, entry.phase, entry.step, entry.seq) == (kind, phase, step, 1)
        assert entry.data == json.loads(json.dumps(fields))  # readers see the data as written
        assert set(entry.record.model_dump(exclude_unset=True)) == set(entry.data)
        assert type(entry.record).model_validate(entry.record.model_dump(mode="json")) == entry.record
    assert j.skipped == []


def test_a_rollback_that_ended_the_drill_s_outage_outside_its_failback_window_is_a_failback_window_record(
        tmp_path: Path):
    written = journal(tmp_path).append(
        "failback_window", phase="rollback", action="outage_ended_outside_window", window="02:00–05:00 UTC (every day)",
        opens_at=AT, wait_seconds=3600.0, by="erin", reason="outside failback.window: the drill's own outage ended now")
    assert isinstance(written.record, RECORDS["failback_window"]) and not written.legacy


def test_a_scorecard_entry_is_the_scorecard(tmp_path: Path):
    j = journal(tmp_path)
    j.append("scorecard", **SCORECARD)
    record = j.entries()[0].record
    assert isinstance(record, ScorecardRecord)
    card = record.scorecard()
    assert card.rto_seconds == 840.0 and card.passed and card.criteria["RTO within target"].evidence == "14m"


def test_a_misspelled_field_is_refused_naming_kind_and_field(tmp_path: Path):
    j = journal(tmp_path)
    j.append("phase_started", phase="t0")
    with pytest.raises(JournalEntryInvalid) as caught:
        j.append("step_finished", phase="t0", step="s", status="ok", detail="x", udno=UNDO)
    message = str(caught.value)
    assert "'step_finished'" in message and "'udno'" in message and "undo" in message
    # nothing was written and no sequence number spent
    assert [e.seq for e in j.entries()] == [1]
    assert j.append("note", message="next").seq == 2


@pytest.mark.parametrize(("kind", "phase", "step", "fields", "named"), [
    ("step_finished", "t0", "s", dict(status="done", detail="x"), "'status'"),
    ("step_finished", "t0", "s", dict(detail="x"), "missing field 'status'"),
    ("gate", "t0", "s", dict(window=1, decision=None, snapshot=SNAPSHOT), "'decision'"),
    ("undo_finished", "t0", "s", dict(undo_of="seven", status="ok", attempts=1, detail=""), "'undo_of'"),
    ("probe_summary", "probes", None, dict(since=AT, rounds=1, targets={"fd": {"ok": 1, "failed": 0}}),
     "'targets.fd.state'"),
    ("step_finished", "t0", None, dict(status="ok", detail="x"), "missing 'step'"),
    ("phase_started", None, None, {}, "missing 'phase'"),
    ("scorecard", None, None, {**SCORECARD, "rto": 1.0}, "'rto'"),
    ("scorecard", None, None, {**SCORECARD, "lost_writes": "two"}, "'lost_writes'"),
])
def test_a_bad_field_is_refused(tmp_path: Path, kind, phase, step, fields, named):
    j = journal(tmp_path)
    with pytest.raises(JournalEntryInvalid) as caught:
        j.append(kind, phase=phase, step=step, **fields)
    assert f"'{kind}'" in str(caught.value) and named in str(caught.value)
    assert not j.path.exists() or j.path.read_text() == ""


def test_an_unknown_kind_is_refused(tmp_path: Path):
    j = journal(tmp_path)
    with pytest.raises(JournalEntryInvalid) as caught:
        j.append("step_finshed", step="s", status="ok", detail="x")
    assert "'step_finshed'" in str(caught.value) and "step_finished" in str(caught.value)
    assert j.entries() == []


def test_the_error_never_shows_a_value(tmp_path: Path):
    with pytest.raises(JournalEntryInvalid) as caught:
        journal(tmp_path).append("note", message="hello", secret_thing="hunter2hunter2", flow_run_id=5)
    assert "hunter2" not in str(caught.value) and "'secret_thing'" in str(caught.value)


def test_redaction_happens_before_the_check_and_the_write(tmp_path: Path):
    j = journal(tmp_path)
    entry = j.append("note", phase="t0", message="calling with Authorization: Bearer abcdefghijklmnop")
    assert entry.data["message"] == entry.record.message == "calling with Authorization: Bearer ***"
    assert "abcdefghijklmnop" not in j.path.read_text()


def test_no_typed_field_is_masked_by_redaction():
    """Redaction masks values under secret-looking keys with a string: a field so named must be a string."""
    for kind, model in RECORDS.items():
        for name in model.model_fields:
            assert not is_secret_key(name), f"{kind}.{name} would be masked by redaction"


def test_a_line_separator_inside_a_message_stays_one_entry(tmp_path: Path):
    j = journal(tmp_path)
    j.append("note", message="one\u2028two\x85three\rfour")
    j.append("note", message="next")
    assert [e.data["message"] for e in Journal(j.path, ManualClock(START)).entries()] == [
        "one\u2028two\x85three\rfour", "next"]


# ---------------------------------------------------------------- torn, garbled and older journals

def ran_steps(j: Journal) -> None:
    j.append("run_started", plan="p", migration="m", phases=["t0"], time_scale=1.0)
    j.append("step_finished", phase="t0", step="a", status="ok", detail="done", undo={**UNDO, "url": "http://x/a"})
    j.append("step_finished", phase="t0", step="b", status="ok", detail="done", undo={**UNDO, "url": "http://x/b"})


def test_a_torn_last_line_is_skipped_and_reported_and_the_rollback_still_runs(tmp_path: Path, caplog):
    j = journal(tmp_path)
    ran_steps(j)
    with j.path.open("a", encoding="utf-8") as handle:  # the crash: half a line, no newline
        handle.write('{"seq": 4, "time": "2026-03-02T09:00:00Z", "wall": "2026-03-02T09:0')
    after = Journal(j.path, ManualClock(START))  # the rollback, in another process
    contents = after.read()
    assert [e.step for e in contents.entries if e.kind == "step_finished"] == ["a", "b"]
    (skipped,) = contents.skipped
    assert skipped.line == 4 and "not JSON" in skipped.error and skipped.text.startswith('{"seq": 4')
    assert after.skipped == contents.skipped
    assert "line 4 skipped" in caplog.text

    ran: list[str] = []

    def run(step: Any) -> StepOutcome:
        ran.append(str(step.url))
        return StepOutcome(status="ok", detail="undone")

    result = undo_completed(after, client=None, clock=ManualClock(START), run=run, phase="t0")
    assert ran == ["http://x/b", "http://x/a"] and result.all_undone
    # what the rollback wrote went on lines of its own, after the torn one
    entries = after.entries()
    assert [e.kind for e in entries[-4:]] == ["undo_started", "undo_finished", "undo_started", "undo_finished"]
    assert [s.line for s in after.skipped] == [4]
    assert len({e.seq for e in entries}) == len(entries)
    assert pending_undos(entries) == []


def test_a_reader_racing_its_own_journals_appends_never_sees_a_torn_line(tmp_path: Path, caplog):
    """Parallel failover actions append and read one journal at once: a read must not catch an append
    half-written and warn "torn or garbled" about a healthy journal."""
    import threading

    j = journal(tmp_path)
    done = threading.Event()
    skipped: list[str] = []

    def write(n: int) -> None:
        for i in range(60):  # lines of 0.7-2 kB: a page boundary falls inside many of them
            j.append("note", phase="failover", message=f"{n}-{i} " + "x" * (700 + 97 * i % 1400))

    def read() -> None:
        while not done.is_set():
            skipped.extend(s.error for s in j.read().skipped)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert skipped == [] and "skipped" not in caplog.text
    assert len(j.entries("note")) == 240


def test_garbage_anywhere_is_skipped_not_fatal(tmp_path: Path):
    j = journal(tmp_path)
    ran_steps(j)
    good = j.path.read_text(encoding="utf-8").splitlines()
    lines = [good[0], "not json at all", "[1, 2]", '{"kind": "note"}', good[1], '{"seq": 9, "time": "soon", '
             '"wall": "2026-03-02T09:00:00Z", "kind": "note"}', good[2]]
    j.path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe{\n")
    contents = read_journal_contents(j.path)
    assert [e.seq for e in contents.entries] == [1, 2, 3]
    assert [s.line for s in contents.skipped] == [2, 3, 4, 6, 8]
    assert "seq" in contents.skipped[2].error and "time" in contents.skipped[3].error
    assert [e.seq for e in read_journal(j.path)] == [1, 2, 3]


def test_an_older_entry_that_does_not_validate_is_read_as_legacy(tmp_path: Path):
    j = journal(tmp_path)
    ran_steps(j)
    old = [  # as an older odin (or a hand edit) wrote them
        {"seq": 4, "time": AT, "wall": AT, "kind": "step_finished", "phase": "t0", "step": "c",
         "data": {"status": "ok", "detail": "done", "undo": {**UNDO, "url": "http://x/c"}, "duration_s": 3.5}},
        {"seq": 5, "time": AT, "wall": AT, "kind": "retired_kind", "data": {"anything": 1}},
        {"seq": 6, "time": AT, "wall": AT, "kind": "comms", "data": {"channel": "email", "to": "ops@example.com"}},
    ]
    with j.path.open("a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(line) + "\n" for line in old))
    contents = Journal(j.path, ManualClock(START)).read()
    assert contents.skipped == [] and [e.seq for e in contents.legacy] == [4, 5, 6]
    c, retired, comms = contents.legacy
    assert isinstance(c.record, LegacyRecord) and "'duration_s'" in c.record.problem and c.record.kind == "step_finished"
    assert c.data == old[0]["data"] and c.record.data == old[0]["data"]
    assert "'retired_kind' is unknown" in retired.record.problem
    assert "'to'" in comms.record.problem and comms.data["to"] == "ops@example.com"
    # the rollback still sees the older step's undo
    assert [e.step for e in pending_undos(contents.entries)] == ["c", "b", "a"]


def test_an_entry_made_by_hand_gets_its_record_when_asked():
    raw = dict(seq=1, time=START, wall=START, phase="t0")
    assert not Entry(kind="note", data={"message": "hi"}, **raw).legacy
    assert Entry(kind="note", data={"message": "hi"}, **raw).record.message == "hi"
    assert Entry(kind="mystery", data={"x": 1}, **raw).legacy


def test_the_policy_entry_takes_whatever_the_policy_has(tmp_path: Path):
    from odin_drills.plan.policy import Policy

    policy = Policy.model_validate({"multipliers": {"rollback": 3.0}, "windows": {"baseline": "1d"}})
    j = journal(tmp_path)
    j.append("policy", **policy.model_dump(mode="json"))  # as the migration flow journals it
    j.append("policy", policy=Policy().model_dump(mode="json"))
    first, second = j.entries()
    assert not first.legacy and not second.legacy
    assert first.record.multipliers.rollback == 3.0 and first.record.windows.baseline == 86400.0
    with pytest.raises(JournalEntryInvalid, match="'multipliers.rollback'"):
        j.append("policy", multipliers={"rollback": 0.5})  # the policy's own rules hold
