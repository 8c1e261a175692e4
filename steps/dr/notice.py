"""The DR test-window notice (SRE handbook, DR Test Procedure step 2: "Communicate: Notify
stakeholders of test window"), sent ahead of the drill's outage.

Design, and why: the notice is the drill run's own first act. With ``comms.notice_before: 1d`` a
drill that will cause its outage (drill mode, ``outage.inject``) sends the notice to every
``comms`` channel, journals it, then waits ``notice_before`` of plan time before it touches
anything (the smoke baseline, the probes, the injection). So the notice is always about *this*
drill, always precedes its outage, and is in its journal and report. The alternative — a second
scheduled deployment firing a day before each drill — needs a second cron kept in step with the
first by hand (the day before "the 1st of the quarter" is not a cron expression) and can announce
a drill that then never runs. The price: a scheduled drill's flow run, and the environment lock,
are held for the notice period (schedule the deployment ``notice_before`` earlier than the
outage should start); the wait stops at once on a signal, and nothing has been changed by then.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from odin_drills.plan.durations import human_duration
from odin_drills.steps import stop
from odin_drills.steps.comms.delivery import deliver
from odin_drills.steps.comms.templates import Message
from odin_drills.steps.redact import redact_text

if TYPE_CHECKING:
    from odin_drills.steps.dr.run import DrillRun

PHASE = "notice"


def notice_message(run: DrillRun, starts_at: object) -> Message:
    """What stakeholders are told ahead of the window: what will break, when, and for how long."""
    plan = run.plan
    primary, secondary = run.primary, run.secondary
    if plan.outage.kind == "app":
        impact = (f"the service in {primary} will stop answering and traffic will move to {secondary} "
                  "(a planned failover: no data loss expected)")
    else:
        impact = (f"{primary} will be taken down as a simulated disaster and the service failed over to {secondary}; "
                  f"writes in flight may be lost, up to the RPO target of {human_duration(plan.targets.rpo)}")
    fields = {
        "What": f"DR test of {plan.name}: {plan.description.strip() or 'region failover drill'}",
        "Window starts": f"{starts_at:%Y-%m-%d %H:%M} UTC",
        "Expected impact": impact,
        "Expected duration": f"up to the RTO target of {human_duration(plan.targets.rto)}, then failback"
                             if plan.failback.enabled else f"up to the RTO target of {human_duration(plan.targets.rto)}",
        "Drill": run.drill_id,
    }
    shown = {label: redact_text(value) for label, value in fields.items()}
    headline = redact_text(f"DR test window: {plan.name} — {primary} → {secondary}, starting {starts_at:%Y-%m-%d %H:%M} UTC")
    text = "\n".join([headline, *(f"{label}: {value}" for label, value in shown.items())])
    return Message(template="notice", minute=None, headline=headline, text=text, fields=shown)


def announce_test_window(run: DrillRun) -> None:
    """Send the notice and wait ``notice_before`` (plan time) when the plan asks for one and the
    drill will cause its own outage; otherwise nothing (an incident is not announced a day early)."""
    ahead = run.plan.comms.notice_before
    if ahead is None or run.mode != "drill" or run.outage is None:
        return
    channels = run.plan.comms.channels
    starts_at = run.clock.now() + timedelta(seconds=ahead)
    message = notice_message(run, starts_at)
    results = [deliver(channel, message, run.client, run.journal, phase=PHASE) for channel in channels]
    sent = [r.channel for r in results if r.sent]
    failed = [r.channel for r in results if not r.sent]
    run.note(PHASE, f"test-window notice sent to {', '.join(sent) or 'no channel'}"
             + (f" (failed: {', '.join(failed)})" if failed else "")
             + f"; the outage starts at {starts_at:%Y-%m-%d %H:%M:%S} UTC (plan time), {human_duration(ahead)} from now")
    while run.clock.now() < starts_at:
        stop.check("the test-window notice period")  # nothing changed yet: the drill just ends
        left = (starts_at - run.clock.now()).total_seconds()
        run.clock.sleep(min(left, run.clock.scale))  # at most a second of real time per slice
