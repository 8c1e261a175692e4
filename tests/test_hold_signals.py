"""A signal while a migration waits on a person (issue 15's last gap): a hold, an approval, a rollback grace.

A hold can last hours; a signal must not wait for it. The first signal ends the wait within
seconds: a hold or an approval stays undecided, is journaled ``hold_interrupted`` (which hold, its
deadline), no step starts, the run ends ``interrupted`` (exit 5) saying how to resume or roll back;
``--resume`` re-opens that hold with its ORIGINAL deadline and a person (``odin decide``) or the
deadline finishes it. A rollback grace is different: the rollback was confirmed, so the signal
rolls back now (``flows.migration_run.ask_person``).

Real parts: the real ``odin`` CLI in subprocesses against the session's Prefect server, the demo
service over real HTTP, signals sent by PID; every process a test starts is stopped by its PID in a
``finally``. The deadline-passed branch is checked in process on a real journal (no wait needed).
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import yaml

from tests.conftest import ODIN, ROOT, run_odin
from tests.test_migration_e2e import FAST, journal, kinds, migrate, shop, write_plan  # noqa: F401 - shop is a fixture

STOP_BOUND_SECONDS = 25.0
"""From the signal to the process gone: the wait ends within ~2 s (a resume and one pause poll), the
hold's monitor finishes its window, then the reports and the final state — with room for a busy
two-core machine. Without the fix the wait lasts the hold's deadline (60 s here) and ends otherwise."""


def _start(plan: Path, env: dict, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*ODIN, "migrate", str(plan), "--time-scale", str(FAST), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def _entries(env: dict, name: str) -> list[dict]:
    try:
        return journal(env, name)
    except (FileNotFoundError, ValueError):
        return []


def _wait_for_hold(runner: subprocess.Popen[str], env: dict, name: str, hold: str, count: int) -> dict:
    """The ``count``-th ``hold_started`` of kind ``hold``, once the run is paused on it in Prefect."""
    deadline = time.monotonic() + 150
    while True:
        holds = [h for h in kinds(_entries(env, name), "hold_started") if h["data"]["hold"] == hold]
        if len(holds) >= count:
            run = httpx.get(f"{env['PREFECT_API_URL']}/flow_runs/{holds[count - 1]['data']['flow_run_id']}",
                            timeout=10).json()
            if run["state"]["type"] == "PAUSED":
                return holds[count - 1]
        assert time.monotonic() < deadline and runner.poll() is None, \
            f"no {hold} hold #{count}: {runner.poll()} {kinds(_entries(env, name), 'run_finished')}"
        time.sleep(0.2)


def _signal_and_wait(runner: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str, float]:
    runner.send_signal(sig)
    sent = time.monotonic()
    out, err = runner.communicate(timeout=120)
    return out, err, time.monotonic() - sent


def _stop(*runners: subprocess.Popen[str] | None) -> None:
    for runner in runners:
        if runner is not None and runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)


def _decide(env: dict, name: str, hold: dict, action: str, by: str) -> None:
    decided = run_odin(["decide", hold["data"]["flow_run_id"], action, "--reason", "looked at it", "--by", by], env=env)
    tail = [(e["kind"], e["step"], str(e["data"].get("reason") or e["data"].get("action") or "")[:120])
            for e in _entries(env, name)[-8:]]
    assert decided.returncode == 0, f"{decided.stderr[-2000:]}\njournal ends: {tail}"


def _assert_interrupted(runner: subprocess.Popen[str], err: str, took: float, entries: list[dict], *, hold: str,
                        step: str, sig: str) -> dict:
    """Exit 5 within the bound, the hold journaled as interrupted (with its own deadline) and not
    decided, the lock released, the way on printed; returns the ``hold_interrupted`` entry."""
    print(f"{sig} during the {hold}: out in {took:.1f} s")
    assert runner.returncode == 5, err[-3000:]
    assert took < STOP_BOUND_SECONDS, took
    started = [h for h in kinds(entries, "hold_started") if h["data"]["hold"] == hold][-1]
    interrupted = kinds(entries, "hold_interrupted")
    assert len(interrupted) == 1, interrupted
    stopped = interrupted[0]
    assert (stopped["step"], stopped["data"]["hold"], stopped["data"]["signal"]) == (step, hold, sig)
    assert stopped["data"]["deadline"] == started["data"]["deadline"]  # the hold's own deadline, kept
    assert "--resume" in stopped["data"]["resume"]
    assert not [e for e in kinds(entries, "human_input") if e["step"] == step]  # undecided
    finished = kinds(entries, "run_finished")[-1]["data"]
    assert (finished["outcome"], finished["exit_code"]) == ("interrupted", 5), finished
    assert f"the {hold} at {step} was decided" in finished["detail"]
    assert [e["data"]["action"] for e in kinds(entries, "lock")][-1] == "released"
    assert "--resume" in err and "odin rollback" in err and "Traceback" not in err
    return stopped


def _stop_in_hold_then_resume_and_decide(plan: Path, env: dict, shop, started: list, *, hold: str, step: str,
                                         sig: signal.Signals, by: str) -> tuple[dict, list[dict]]:
    """T-0 to its first ``hold``; ``sig`` there (checked by ``_assert_interrupted``, nothing changed
    meanwhile); ``--resume``: the same hold re-opened with its deadline; ``by`` decides proceed.
    Every process goes into ``started`` for the caller to stop; the resumed run is the last one.
    Returns the ``hold_interrupted`` entry and the journal as the signal left it."""
    name = yaml.safe_load(plan.read_text())["name"]
    started.append(_start(plan, env, "--phase", "t0"))
    held = _wait_for_hold(started[-1], env, name, hold, 1)
    weights = shop.weights()
    out, err, took = _signal_and_wait(started[-1], sig)
    entries = journal(env, name)
    stopped = _assert_interrupted(started[-1], err, took, entries, hold=hold, step=step, sig=sig.name)
    assert stopped["data"]["reason"] == held["data"]["reason"]
    assert not kinds(entries, "rollback_started") and shop.weights() == weights  # nothing changed by the stop

    started.append(_start(plan, env, "--resume"))
    reopened = _wait_for_hold(started[-1], env, name, hold, 2)
    assert reopened["data"]["reopened"] is True
    assert reopened["data"]["deadline"] == held["data"]["deadline"]  # the original deadline, not a new 1000 h
    _decide(env, name, reopened, "proceed", by)
    return stopped, entries


def test_sigterm_during_a_hold_leaves_it_open_and_resume_reopens_it_with_its_deadline(
        tmp_path: Path, odin_env: dict, shop) -> None:
    """The gate after shift-10 holds (a non-critical journey fails once green takes traffic);
    SIGTERM during that 1000 h hold: out within seconds, exit 5, the hold journaled as interrupted,
    nothing undone. ``--resume`` re-opens the same hold — same deadline, the gate not watched again —
    and ``odin decide ... proceed`` finishes T-0."""
    weights = f"{shop.router_url}/_admin/weights"
    t0 = [{"name": "shift-10", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}}]
    # only the journey holds: no error or latency rule can escalate the hold on a busy machine
    plan = write_plan(tmp_path, shop.router_url, name="hold-sigterm", t0=t0, policy={
        "deadlines": {"hold": "1000h"}, "floors": {"error_rate_pp": 60},
        "absolute": {"error_rate_pct": None, "p95_latency_ms": None}})
    spec = yaml.safe_load(plan.read_text())
    spec["metrics"]["rate_per_second"] = 50
    spec["smoke"].append({"name": "still-all-blue", "url": weights, "critical": False,  # fails once green serves
                          "assert": [{"jsonpath": "$.green", "equals": 0}]})
    plan.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    started: list[subprocess.Popen[str]] = []
    try:
        stopped, _ = _stop_in_hold_then_resume_and_decide(plan, odin_env, shop, started, hold="hold", step="shift-10",
                                                          sig=signal.SIGTERM, by="dana")
        assert stopped["data"]["default"] == "rollback"  # on_hold_timeout
        resumed = started[-1]
        out, err = resumed.communicate(timeout=120)
    finally:
        _stop(*started)
    assert resumed.returncode == 0, err[-3000:]
    entries = journal(odin_env, "hold-sigterm")
    assert kinds(entries, "run_finished")[-1]["data"]["outcome"] == "completed"
    second_run = kinds(entries, "run_started")[-1]["seq"]
    assert not [e for e in kinds(entries, "gate") if e["step"] == "shift-10" and e["seq"] > second_run]  # re-opened
    assert [(h["step"], h["data"]["action"], h["data"]["by"]) for h in kinds(entries, "human_input")] == \
        [("shift-10", "proceed", "dana")]
    assert [e["step"] for e in kinds(entries, "step_finished")].count("shift-10") == 1
    assert shop.weights() == {"blue": 90, "green": 10}


def test_sigint_during_an_approval_then_sigterm_during_a_rollback_grace(tmp_path: Path, odin_env: dict, shop) -> None:
    """Ctrl-C during a go/no-go approval: out within seconds, exit 5, the approval open, shift-100
    never started. ``--resume`` re-opens the approval (same deadline); ``odin decide proceed``;
    shift-100 sends traffic to a failing green, the gate confirms a rollback and its 1000 h grace
    begins; SIGTERM during the grace does not cancel the confirmed rollback: it rolls back now
    (exit 3, all blue again), decided by the signal, on the record."""
    weights = f"{shop.router_url}/_admin/weights"
    t0 = [{"name": "go-no-go", "kind": "approval", "prompt": "Cut over to green?", "timeout": "1000h"},
          {"name": "shift-100", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 0, "green": 100},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}}]
    plan = write_plan(tmp_path, shop.router_url, name="grace-signal", t0=t0,
                      policy={"rollback_grace": "1000h", "deadlines": {"rollback": "2000h"},
                              "absolute": {"p95_latency_ms": None}})  # a slow busy machine: not "degraded"
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    shop.add_fault("green", error_rate=0.9)  # far above the baseline, even one a busy machine inflates
    started: list[subprocess.Popen[str]] = []
    try:
        stopped, entries = _stop_in_hold_then_resume_and_decide(plan, odin_env, shop, started, hold="approval",
                                                                step="go-no-go", sig=signal.SIGINT, by="erin")
        assert stopped["data"]["default"] == "rollback"  # on_timeout: reject
        assert not [e for e in entries if e["step"] == "shift-100" and e["phase"] == "t0"]  # no step started
        resumed = started[-1]
        grace = _wait_for_hold(resumed, odin_env, "grace-signal", "rollback-grace", 1)
        assert shop.weights() == {"blue": 0, "green": 100}
        out, err, took = _signal_and_wait(resumed, signal.SIGTERM)
    finally:
        _stop(*started)
    print(f"SIGTERM during the rollback grace: rolled back and out in {took:.1f} s")
    assert resumed.returncode == 3, err[-3000:]  # rolled back, healthy: not "interrupted"
    assert took < STOP_BOUND_SECONDS + 30, took  # the grace ends at once; the rollback and its re-check follow
    entries = journal(odin_env, "grace-signal")
    answer = [h for h in kinds(entries, "human_input") if h["seq"] > grace["seq"]]
    assert [(h["step"], h["data"]["action"], h["data"]["by"]) for h in answer] == \
        [("shift-100", "rollback", "odin (SIGTERM)")]
    assert len(kinds(entries, "hold_interrupted")) == 1  # only the approval's: the grace was not left open
    assert kinds(entries, "rollback_finished")[-1]["data"]["healthy"] is True
    assert kinds(entries, "run_finished")[-1]["data"]["outcome"] == "rolled_back_healthy"
    assert shop.weights() == {"blue": 100, "green": 0}


def test_a_hold_whose_deadline_passed_while_stopped_applies_its_default_on_resume(tmp_path: Path) -> None:
    """The deadline branch of a re-opened hold, on a real journal and the real ``ask_person``: the
    interrupted approval's deadline lies behind the plan clock, so resuming it does not wait — its
    default applies at once, decided by the deadline; a hold decided since is not open any more."""
    from odin_drills.flows import migration_state as state
    from odin_drills.flows.migration_run import MigrationRun, ask_person
    from odin_drills.plan import load_plan
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.journal import Journal

    plan_file = write_plan(tmp_path, "http://127.0.0.1:9")
    clock = ScaledClock(FAST, start=datetime.now(timezone.utc))
    journal_ = Journal(tmp_path / "journal.jsonl", clock)
    passed = clock.now() - timedelta(minutes=5)
    journal_.append("hold_interrupted", phase="t0", step="go-no-go", hold="approval", reason="Cut over?",
                    default="proceed", deadline=passed, signal="SIGTERM", resume="odin migrate x --resume")
    assert state.pending_hold(journal_.entries(), "t0", "go-no-go", "approval") is not None
    assert state.pending_hold(journal_.entries(), "t0", "go-no-go", "hold") is None  # another kind of hold
    run = MigrationRun(plan=load_plan(str(plan_file)), plan_file=str(plan_file), migration="m1", folder=tmp_path,
                       clock=clock, journal=journal_, client=httpx.Client())
    try:
        started = time.monotonic()
        choice = ask_person(run, phase="t0", step="go-no-go", kind="approval", deadline=3600.0, default="rollback",
                            reason="Cut over?", watch=False)
    finally:
        run.close()
    assert time.monotonic() - started < 5
    assert choice == "proceed"  # the interrupted hold's default, not this call's
    entries = journal_.entries()
    decided = [e for e in entries if e.kind == "human_input"]
    assert [(e.step, e.data["action"], e.data["by"]) for e in decided] == [("go-no-go", "proceed", "odin (deadline)")]
    assert "passed while the run was interrupted" in decided[0].data["reason"]
    assert not [e for e in entries if e.kind == "hold_started"]  # nothing to wait for
    assert state.pending_hold(entries, "t0", "go-no-go", "approval") is None
    from odin_drills.reports.html import render_html
    from odin_drills.reports.markdown import render_markdown

    # the reports show the interruption beside the decision that closed the hold
    assert "hold interrupted by SIGTERM, undecided (approval" in render_markdown(entries)
    assert "approval interrupted" in render_html(entries)
