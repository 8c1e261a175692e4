"""Validation that measures: the DR region's error rate and latency against the pre-failover
baseline, and the service's alerts, each a criterion of the scorecard.

    capture_dr_baseline(run)   prepare, before anything breaks: one window of the plan's ``metrics:``
    watch_dr_region(run)       validate: the rollback ladder (``steps.judge.Judge``) against that baseline
    alerts_green(run)          validate, at its end: no Sev 0/1 alert of the service fires

Why the migration's ladder and not a threshold of our own: the DR region is a change like any
other, and the ladder already knows how much evidence a verdict needs (sequential by default, the
absolute limits beside it); the baseline is the same source measured before the outage, so "worse"
means worse than this service was, not than a number someone guessed. A ``rollback`` or
``rollback_now`` verdict is the DR region serving worse than the plan allows: it joins
``run.found.worse`` and the plan's ``decision.on_worse_after_failover`` acts on it. Every window is
journaled as a ``gate`` entry (the Judge's), the baseline as a ``baseline`` entry, each criterion as a
``validation_criterion`` entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odin_drills.errors import UsageError
from odin_drills.plan.durations import human_duration
from odin_drills.steps.baseline import unusable_baseline
from odin_drills.steps.dr.scorecard import Criterion
from odin_drills.steps.snapshot import Snapshot

if TYPE_CHECKING:
    from odin_drills.steps.dr.run import DrillRun

RED_LEVELS = ("sev0", "sev1")


def record(run: DrillRun, name: str, criterion: Criterion, **measured: Any) -> Criterion:
    """Keep the criterion for the scorecard and journal it with what was measured."""
    run.found.validation[name] = criterion
    run.journal.append("validation_criterion", phase="validate", criterion=name, passed=criterion.passed,
                       evidence=criterion.evidence, measured=measured)
    return criterion


def capture_dr_baseline(run: DrillRun) -> Snapshot | None:
    """One ``validation.interval`` window of ``metrics:`` before anything breaks, journaled as the
    drill's baseline. One window, not the watch's length: the ladder's power rule needs the watch to
    see several times the baseline's traffic (about 8x at the default power and alpha, for a service
    without errors) before it may proceed, so a longer baseline would only make the watch hold. A window that cannot be a baseline refuses a drill that would cause its own
    outage (nothing was touched yet); waiting for a real outage, it is noted and the DR region is
    then not judged (the criterion says so)."""
    if run.plan.metrics is None:
        return None
    window = run.plan.validation.interval
    snapshot = run.metric_source().measure(window)
    problem = unusable_baseline(snapshot, "metrics")
    if problem:
        if run.outage is not None:
            raise UsageError(f"{problem.split(';')[0]}: the DR region cannot be judged against it; nothing was "
                             "injected")
        run.note("prepare", f"no baseline for the DR region: {problem}")
        return None
    run.found.dr_baseline = snapshot
    run.journal.append("baseline", phase="prepare", window_seconds=window,
                       snapshot=snapshot.model_dump(mode="json", exclude={"latency_samples_ms"}))
    return snapshot


def watch_dr_region(run: DrillRun) -> Criterion | None:
    """The ladder over ``validation.watch`` in ``validation.interval`` windows against the baseline;
    the verdict becomes ``dr_region_within_baseline`` and a rollback verdict ``run.found.worse``."""
    from odin_drills.steps import stop
    from odin_drills.steps.judge import Judge

    if run.plan.metrics is None:
        return None
    baseline = run.found.dr_baseline
    name = "dr_region_within_baseline"
    if baseline is None:
        return record(run, name, Criterion(passed=False, evidence="no usable baseline was captured before the "
                                           "outage: the DR region's error rate and latency were not judged"))
    validation = run.plan.validation
    interval = min(validation.interval, validation.watch)
    judge = Judge(source=run.metric_source(), baseline=baseline, policy=run.plan.policy, journal=run.journal,
                  clock=run.clock)
    judge.stop = stop.event()  # a signal ends the watch at its next window; the criterion then says so
    verdict = judge.watch(validation.watch, phase="validate", step=f"{run.secondary} vs baseline", interval=interval)
    watched = _watched(run)
    numbers = f"{_numbers(watched, 'DR region')} vs {_numbers(baseline, 'baseline')}" if watched else _numbers(
        baseline, "baseline")
    head = f"{verdict.action} after {verdict.windows} window(s) of {human_duration(interval)}: {numbers}"
    passed = verdict.action == "proceed"
    if verdict.action in ("rollback", "rollback_now"):
        why = f"the rollback ladder finds {run.secondary} worse than before the outage ({verdict.reason})"
        run.found.worse = f"{run.found.worse}; {why}" if run.found.worse else why
    return record(run, name, Criterion(passed=passed, evidence=f"{head}; {verdict.reason}"),
                  action=verdict.action, windows=verdict.windows, baseline=_summary(baseline),
                  watched=_summary(watched) if watched else None)


def alerts_green(run: DrillRun) -> Criterion | None:
    """At the end of validation no Sev 0/1 alert of the service may fire (the plan's ``alerts:``
    scopes which resources count: the DR region's); a source that does not answer is not green."""
    from odin_drills.steps.alerts.alertmanager import AlertSourceUnavailable
    from odin_drills.steps.probes.open import open_alert_source

    spec = run.plan.alerts
    if spec is None:
        return None
    name = "alerts_green"
    source = open_alert_source(spec, run.plan.target)
    try:
        firing = source.firing()
    except (AlertSourceUnavailable, OSError) as exc:
        return record(run, name, Criterion(passed=False, evidence=f"the alerts could not be read ({exc}): not "
                                           "known to be green"), unavailable=str(exc))
    finally:
        source.close()
    red = [a for a in firing if a.level in RED_LEVELS]
    names = ", ".join(f"{a.name} ({a.severity or a.level})" for a in red)
    if red:
        evidence = f"{len(red)} Sev 0/1 alert(s) firing at the end of validation: {names}"
    else:
        lower = f" ({len(firing)} lower-severity alert(s) firing)" if firing else ""
        evidence = f"no Sev 0/1 alert firing at the end of validation ({source.name}){lower}"
    return record(run, name, Criterion(passed=not red, evidence=evidence),
                  firing=[a.model_dump(mode="json") for a in firing])


def _watched(run: DrillRun) -> Snapshot | None:
    """Every window the watch journaled (its gate entries) merged: the numbers in the evidence."""
    from odin_drills.steps.snapshot import merge_snapshots

    windows = [Snapshot.model_validate(entry.data["snapshot"]) for entry in run.journal.entries("gate")
               if entry.phase == "validate" and isinstance(entry.data.get("window"), int) and entry.data.get("snapshot")]
    return merge_snapshots(windows) if windows else None


def _numbers(snapshot: Snapshot, label: str) -> str:
    return (f"{label} {snapshot.errors}/{snapshot.requests} errors ({snapshot.error_rate:.2%}), "
            f"p95 {snapshot.latency_ms.p95:.0f} ms")


def _summary(snapshot: Snapshot) -> dict[str, Any]:
    return {"requests": snapshot.requests, "errors": snapshot.errors, "error_rate": round(snapshot.error_rate, 6),
            "p95_ms": snapshot.latency_ms.p95, "p99_ms": snapshot.latency_ms.p99}
