"""A drill's automatic failback in the plan's low-traffic window (``failback.window``).

The handbook's failback: the primary region healthy again, then "plan failback during a
low-traffic window", then the reverse failover. :func:`await_window` is the middle step, run once
the primary has been healthy for ``failback.wait_healthy``:

    in the window now             ``failback_window`` ``in_window``; the failback goes on at once
    opens within window_wait      ``wait``, with ``opens_at``, journaled *before* waiting (plan time:
                                  under a scaled clock the wait shrinks with it); a stop request
                                  ends the wait (``stopped``) and the drill fails back at once,
                                  outside the window, as a stopping drill puts the world back
    not within window_wait        ``no_failback``: nothing is failed back, the service stays in the
                                  DR region, and the scorecard says why (``failback_completed``)

Each sets the criterion ``failback_in_window``. Why not wait indefinitely: a drill run holds its
environment lock, its probes and its Prefect flow run while it waits; a window days away is a
person's failback (``odin rollback PLAN --drill ID``: outside the window it only ends the drill's own
outage, if one is still in place, or is refused, unless ``--force``).
Incident mode never gets here: it never fails back by itself.
"""

from __future__ import annotations

from datetime import datetime

from odin_drills.plan.drill import DrillPlan
from odin_drills.plan.durations import human_duration
from odin_drills.plan.windows import at_utc, describe, opens_at
from odin_drills.steps import stop
from odin_drills.steps.dr.run import DrillRun
from odin_drills.steps.dr.scorecard import Criterion
from odin_drills.steps.journal import Journal


def await_window(run: DrillRun, phase: str = "failback") -> float | None:
    """Plan seconds waited for ``failback.window`` before the failback may start (0: in it now, or the
    plan declares none); None: it does not open within ``failback.window_wait``, so no failback."""
    window = run.plan.failback.window
    if window is None:
        return 0.0
    text, now = describe(window), run.clock.now()
    opens = opens_at(window, now)
    if opens == now:
        run.journal.append("failback_window", phase=phase, action="in_window", window=text, opens_at=now,
                           reason=f"{at_utc(now)} is inside failback.window ({text})")
        run.found.failback_window = Criterion(passed=True, evidence=f"the failback started at {at_utc(now)}, "
                                              f"inside failback.window ({text})")
        return 0.0
    limit = run.plan.failback.window_wait
    wait = None if opens is None else (opens - now).total_seconds()
    if opens is None or wait is None or wait > limit:
        when = "never opens again" if opens is None else f"opens next at {at_utc(opens)}, in {human_duration(wait)}"
        why = (f"failback.window ({text}) {when}, beyond failback.window_wait ({human_duration(limit)}): no failback, "
               f"the service stays in {run.secondary}")
        run.journal.append("failback_window", phase=phase, action="no_failback", window=text, opens_at=opens,
                           wait_seconds=wait, reason=why)
        run.found.failback_window = Criterion(passed=False, evidence=why)
        run.found.no_failback = why
        run.stakeholders.update("monitoring", f"{run.primary} is healthy again; the service stays in {run.secondary} "
                                "until the next low-traffic window")
        return None
    run.journal.append("failback_window", phase=phase, action="wait", window=text, opens_at=opens, wait_seconds=wait,
                       reason=f"{at_utc(now)} is outside failback.window ({text}): the failback waits "
                              f"{human_duration(wait)} (plan time) for it")
    run.stakeholders.update("failing back", f"{run.primary} is healthy again; the failback is scheduled for the "
                            f"low-traffic window at {at_utc(opens)}")
    stopped = sleep_until(run, opens)
    waited = (run.clock.now() - now).total_seconds()
    if stopped is not None:
        why = (f"{stopped} ended the wait for failback.window ({text}) at {at_utc(run.clock.now())}: failing back "
               "now, outside it")
        run.journal.append("failback_window", phase=phase, action="stopped", window=text, opens_at=opens,
                           wait_seconds=waited, reason=why)
        run.found.failback_window = Criterion(passed=False, evidence=why)
        return waited
    run.found.failback_window = Criterion(passed=True, evidence=f"waited {human_duration(waited)} for failback.window "
                                          f"({text}): the failback started at {at_utc(run.clock.now())}")
    return waited


def sleep_until(run: DrillRun, moment: datetime) -> str | None:
    """Wait until ``moment`` (plan time) in short wall slices; the stop request's reason if one ends it."""
    while True:
        left = (moment - run.clock.now()).total_seconds()
        if left <= 0:
            return None
        if stop.wait(min(run.clock.wall_seconds(left), 1.0)):
            return stop.requested() or "a stop request"


def outside_window(plan: DrillPlan, now: datetime) -> str | None:
    """Why a failback at ``now`` (``odin rollback PLAN --drill ID``) is outside ``failback.window``,
    naming the field and when it opens next; None inside it, or when the plan declares none."""
    window = plan.failback.window
    opens = None if window is None else opens_at(window, now)
    if window is None or opens == now:
        return None
    when = f"it opens next at {at_utc(opens)}" if opens is not None else "it never opens again"
    return f"failback.window: {at_utc(now)} is outside the low-traffic window ({describe(window)}); {when}"


def journal_window(journal: Journal, plan: DrillPlan, now: datetime, *, by: str, reason: str) -> None:
    """An ``odin rollback`` of a drill against its ``failback.window``: ``in_window``, or ``forced``
    (outside it with ``--force``) with who and why; nothing when the plan declares no window."""
    window = plan.failback.window
    if window is None:
        return
    outside = outside_window(plan, now)
    if outside is None:
        journal.append("failback_window", phase="rollback", action="in_window", window=describe(window), opens_at=now,
                       reason=f"{at_utc(now)} is inside failback.window ({describe(window)})", by=by)
        return
    journal.append("failback_window", phase="rollback", action="forced", window=describe(window),
                   opens_at=opens_at(window, now), reason=f"{outside}: forced with --force by {by}: {reason}", by=by)


def journal_outage_ended(journal: Journal, plan: DrillPlan, now: datetime, *, by: str, reason: str) -> None:
    """An ``odin rollback`` outside ``failback.window`` that ended the drill's own outage at once
    (``outage_ended_outside_window``, with who and why): the outage is the drill's doing, not the
    service's way home, so it does not wait; what is left of the failback keeps to the window."""
    window = plan.failback.window
    outside = outside_window(plan, now)
    assert window is not None and outside is not None, "only outside a declared failback.window"
    opens = opens_at(window, now)
    journal.append("failback_window", phase="rollback", action="outage_ended_outside_window", window=describe(window),
                   opens_at=opens, wait_seconds=None if opens is None else (opens - now).total_seconds(),
                   reason=f"{outside}: the drill's own outage was ended at once by {by}: {reason}; the failback keeps "
                          "to the window", by=by)
