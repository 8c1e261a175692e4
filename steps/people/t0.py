"""T-0's people items, before the first world-changing step: "On-call team on standby" and
"Communication sent to stakeholders" (plan: ``people.on_call_confirmation``, ``people.stakeholder_notice``).

The confirmation is a hold (``hold_started`` / ``human_input``, step ``on-call-confirmation``)
answered from the Prefect UI or ``odin decide RUN proceed``; ``rollback`` means "not on standby".
At the deadline the safe default applies: a ``required`` confirmation not given refuses T-0
(exit 2, nothing changed, the environment freed). The notice is one ``comms`` entry per channel
(step ``stakeholder-notice``). Neither is asked or sent again once T-0 began or once done in this
migration (a T-0 run again after an interruption).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from odin_drills.errors import UsageError
from odin_drills.plan.durations import human_duration
from odin_drills.steps.comms.delivery import deliver
from odin_drills.steps.comms.templates import Message
from odin_drills.steps.journal import Entry
from odin_drills.steps.redact import redact_text

ON_CALL_STEP = "on-call-confirmation"
NOTICE_STEP = "stakeholder-notice"
DEADLINE_BY = "odin (deadline)"


def _began(entries: list[Entry]) -> bool:
    return any(e.kind == "step_intent" and e.phase == "t0" for e in entries)


def confirmed(entries: list[Entry]) -> Entry | None:
    """The ``human_input`` that confirmed the on-call standby in this migration, if any."""
    return next((e for e in reversed(entries) if e.kind == "human_input" and e.phase == "t0"
                 and e.step == ON_CALL_STEP and e.data.get("action") == "proceed"), None)


def prompt(plan: Any) -> str:
    spec = plan.people.on_call_confirmation
    unanswered = "T-0 does not start" if spec.required else "T-0 starts unconfirmed (noted)"
    return (f"{spec.who}: confirm you are on standby for migration {plan.name} ({plan.service.name}): proceed = on "
            f"standby, T-0 starts; rollback = not available, T-0 does not start; no answer within "
            f"{human_duration(spec.timeout)}: {unanswered}")


def confirm_on_call(run: Any, ask: Callable[..., str]) -> None:
    """Ask the on-call person (``ask`` is the flow's ``ask_person``); raise ``UsageError`` (refused,
    nothing changed) when T-0 must not start."""
    spec = run.plan.people.on_call_confirmation
    entries = run.journal.entries()
    if spec is None or _began(entries) or confirmed(entries) is not None:
        return
    action = ask(run, phase="t0", step=ON_CALL_STEP, kind="on-call", deadline=spec.timeout,
                 default="rollback" if spec.required else "proceed", reason=prompt(run.plan), watch=False)
    answer = next(e for e in reversed(run.journal.entries()) if e.kind == "human_input" and e.step == ON_CALL_STEP)
    by, reason = answer.data.get("by"), answer.data.get("reason")
    if action == "proceed":
        said = (f"not confirmed within {human_duration(spec.timeout)}; people.on_call_confirmation.required is false, "
                "so T-0 starts without a confirmed standby" if by == DEADLINE_BY else f"on standby: confirmed by {by}")
        run.journal.append("note", phase="t0", step=ON_CALL_STEP, message=f"on-call ({spec.who}) {said}")
        return
    why = (f"not confirmed within {human_duration(spec.timeout)}" if by == DEADLINE_BY
           else f"{by} answered not on standby ({reason})")
    raise UsageError(f"{run.plan_file}: people.on_call_confirmation: {spec.who}: {why}: T-0 not started, nothing "
                     "changed; run `odin migrate PLAN --phase t0` again when the on-call person is on standby")


def _window(window: Any) -> str:
    if window is None:
        return "none set"
    if isinstance(window.start, datetime):
        return f"{window.start:%Y-%m-%d %H:%M %Z} – {window.end:%Y-%m-%d %H:%M %Z}"
    return f"{window.start:%H:%M}–{window.end:%H:%M} {window.timezone} ({', '.join(window.days)})"


def notice_message(plan: Any, migration: str, now: Any, on_call: str | None) -> Message:
    """What stakeholders read as the change window starts."""
    changes = [s.label for s in plan.phases.t0 if s.changes_world]
    fields = {
        "What": f"migration {plan.name} of {plan.service.name}" + (f": {plan.description.strip()}"
                                                                  if plan.description.strip() else ""),
        "Starts": f"{now:%Y-%m-%d %H:%M} UTC",
        "Change window": _window(plan.change_window),
        "Changes": ", ".join(changes) or "none (observe only)",
        "Checks": "each step is watched against last week's baseline and rolled back automatically when the numbers "
                  "say so; validation at T+1h, final review at T+24h",
        "On call": on_call,
        "Note": plan.people.stakeholder_notice.note or None,
        "Migration": migration,
    }
    shown = {label: redact_text(str(value)) for label, value in fields.items() if value}
    headline = redact_text(f"Change window starting: {plan.name} ({plan.service.name}) at {now:%Y-%m-%d %H:%M} UTC")
    text = "\n".join([headline, *(f"{label}: {value}" for label, value in shown.items())])
    return Message(template="notice", minute=None, headline=headline, text=text, fields=shown)


def send_notice(run: Any) -> None:
    """Tell every channel the change window starts; refuse T-0 when the plan requires a notice and
    no channel took it."""
    spec = run.plan.people.stakeholder_notice
    entries = run.journal.entries()
    if spec is None or _began(entries) or any(e.kind == "comms" and e.step == NOTICE_STEP
                                              and e.data.get("status") == "sent" for e in entries):
        return
    who = confirmed(entries)
    on_call = f"{who.data.get('by')} (confirmed)" if who is not None and who.data.get("by") != DEADLINE_BY else (
        run.plan.people.on_call_confirmation.who if run.plan.people.on_call_confirmation else None)
    message = notice_message(run.plan, run.migration, run.clock.now(), on_call)
    results = [deliver(channel, message, run.client, run.journal, phase="t0", step=NOTICE_STEP)
               for channel in spec.channels]
    sent = [r.channel for r in results if r.sent]
    failed = [r.channel for r in results if not r.sent]
    run.journal.append("note", phase="t0", step=NOTICE_STEP, sent=len(sent), failed=len(failed), message=(
        f"stakeholder notice sent to {', '.join(sent) or 'no channel'}" + (f" (failed: {', '.join(failed)})" if failed else "")))
    if spec.required and not sent:
        raise UsageError(f"{run.plan_file}: people.stakeholder_notice: no channel took the notice "
                         f"({', '.join(f'{r.channel}: {r.detail}' for r in results)}): T-0 not started, nothing changed")
