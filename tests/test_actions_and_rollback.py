"""Steps and undo without Prefect: commands, webhooks, and a rollback that keeps going past a failure."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from pydantic import TypeAdapter

from odin_drills.plan.steps import Step
from odin_drills.steps.actions import run_action
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.rollback import pending_undos, undo_completed
from tests.webhook_receiver import Reply, WebhookReceiver

STEP = TypeAdapter(Step)


def step(spec: dict):
    return STEP.validate_python(spec)


def test_command_runs_without_a_shell_and_checks_its_exit_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ok = step({"kind": "command", "argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"],
               "undo": {"kind": "command", "argv": ["true"]}})
    outcome = run_action(ok, client=httpx.Client(), clock=ManualClock())
    assert outcome.status == "ok" and marker.read_text() == "x"
    assert outcome.undo == {"name": "", "kind": "command", "argv": ["true"], "shell": False, "env": {},
                            "timeout": "5m", "expect_exit": 0}
    # "; echo" is an argument, not shell syntax: no shell unless asked
    literal = step({"kind": "command", "argv": ["echo", "a;", "echo", "b"], "undo": "none", "undo_reason": "read-only"})
    assert run_action(literal, client=httpx.Client(), clock=ManualClock()).output["stdout"] == "a; echo b\n"


def test_command_failure_and_timeout_are_failed_outcomes_with_no_undo() -> None:
    failing = step({"kind": "command", "argv": [sys.executable, "-c", "import sys; sys.exit(3)"],
                    "undo": {"kind": "command", "argv": ["true"]}})
    outcome = run_action(failing, client=httpx.Client(), clock=ManualClock())
    assert outcome.status == "failed" and "exited 3, expected 0" in outcome.detail and outcome.undo is None
    slow = step({"kind": "command", "argv": ["sleep", "5"], "timeout": "0.2s", "undo": {"kind": "command", "argv": ["true"]}})
    outcome = run_action(slow, client=httpx.Client(), clock=ManualClock())
    assert outcome.status == "failed" and "did not finish in 0.2 s" in outcome.detail
    missing = step({"kind": "command", "argv": ["/no/such/program"], "undo": "none", "undo_reason": "x"})
    assert "command not found" in run_action(missing, client=httpx.Client(), clock=ManualClock()).detail


def test_notify_posts_json_and_never_shows_the_webhook_url(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver, httpx.Client() as client:
        url = receiver.url("/services/T000/B000/secret-token")
        notify = step({"kind": "notify", "url": url, "message": "cut-over starts", "payload": {"channel": "#ops"}})
        outcome = run_action(notify, client=client, clock=ManualClock())
        got = receiver.wait_for(1)
    assert outcome.status == "ok" and got[0].body == {"text": "cut-over starts", "channel": "#ops"}
    journal = Journal(tmp_path / "j.jsonl", ManualClock())
    journal.append("step_finished", step="notify", status=outcome.status, detail=outcome.detail, output=outcome.output)
    # a webhook URL's path is its credential: only the host is ever shown
    assert "secret-token" not in outcome.detail and "127.0.0.1" in outcome.detail
    assert "secret-token" not in (tmp_path / "j.jsonl").read_text()


def test_rollback_undoes_newest_first_retries_and_keeps_going(tmp_path: Path) -> None:
    clock = ManualClock()
    journal = Journal(tmp_path / "journal.jsonl", clock)
    with WebhookReceiver() as receiver, httpx.Client() as client:
        receiver.reply("/undo-b", Reply(500), Reply(500), Reply(500))  # fails every attempt
        receiver.reply("/undo-c", Reply(503))                          # fails once, then succeeds
        for name in ("a", "b", "c"):
            journal.append("step_finished", step=name, status="ok", detail="done",
                           undo={"kind": "http", "method": "POST", "url": receiver.url(f"/undo-{name}"), "expect_status": 200})
        journal.append("step_finished", step="d", status="failed", detail="broke",
                       undo=None)  # failed steps have no undo to run
        result = undo_completed(journal, client=client, clock=clock, attempts=3, backoff_seconds=0.01)
        order = [r.path for r in receiver.received()]
    assert [u.step for u in result.undone] == ["c", "b", "a"]
    assert [(u.status, u.attempts) for u in result.undone] == [("ok", 2), ("failed", 3), ("ok", 1)]
    assert order == ["/undo-c", "/undo-c", "/undo-b", "/undo-b", "/undo-b", "/undo-a"]
    assert not result.all_undone
    # what succeeded is not undone twice; what failed is still pending for a later attempt
    assert [e.step for e in pending_undos(journal.entries())] == ["b"]
