"""Watching the service against its baseline until the numbers allow a verdict.

This is where the rollback ladder meets time. Each evaluation window is measured by the plan's
metric source, smoke journeys add their signals, and a judge turns the stream of windows into one
verdict a flow can act on. ``policy.judge`` picks which:

**sequential** (the default; ``odin_drills.steps.sequential``): every window adds to anytime-valid
evidence (e-detectors against the baseline's exact bounds), so the watch may act after any window
while a healthy service is held or rolled back with probability at most the watch's alpha over the
whole watch (``AlphaBudget`` spends one alpha per migration across the phases):

- ``rollback_now`` acts at once; a hold acts at once (a person decides);
- a rollback the evidence shows acts at once (``policy.confirm_windows``, if set, still asks for
  that many consecutive windows), and so do 2 or more Sev 1 alerts read from the plan's alert
  source (each rule's ``for:`` is already its confirmation); a rollback from other hard signals
  alone (critical journeys, a hand-written ``sev1_alerts``) or from percentile-only latency keeps
  the old confirmation over 2 windows; an error rate conclusively above the absolute limit
  (``policy.absolute``, ``odin_drills.steps.limits``) acts at once too;
- at the end of the planned windows: evidence above the watch rung (1.1x) is a hold; a watch that
  could not yet have seen a rollback-tier error breach (the power rule, for this test) collects up
  to ``windows.max_extensions`` more intervals and then holds, saying how much more traffic it
  would need; otherwise it proceeds. Windows are never merged: the evidence is cumulative already.

**fixed** (the rule before issue 11): each window is judged alone by ``gates.evaluate`` at
``policy.confidence``; ``rollback`` acts only after 2 (or ``confirm_windows``) consecutive windows
say so; ``inconclusive`` windows are merged with the next one; ``watch``, ``inconclusive`` or an
unconfirmed rollback at the end get up to ``windows.max_extensions`` extra intervals, then a hold;
a watch of several windows ends with an evaluation of all of them merged (the T+24h "24 h vs
baseline" judgement). On a healthy service it holds or rolls back most day-long watches
(``bench/results/watch_noise.md``).

Each evaluation — measuring the window, running the smoke journeys, the verdict and its journal
entries — is one measurement window on the run's clock (``odin_drills.steps.clock``): it advances
plan time by the window's configured length and no more. Under a scaled clock the smoke journeys
and the statistics take real time that would otherwise count N times over (a second of it is 5.6
plan hours at N = 20000); a real gate window likewise ends with its verdict.

With the plan's SLO (``burn``: ``odin_drills.steps.burn``), every measured window also carries
``slo_at_risk`` when the error budget's multi-window burn rates over this judge's windows say so:
the ladder's hold, with the burn rates in the reason.

A gate entry keeps the window's latencies as a histogram (``sequential.histogram_of``) when the
source gave raw samples, so ``odin replay --journal`` can judge the windows again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from odin_drills.steps.clock import measurement_window
from odin_drills.steps.snapshot import Snapshot, merge_snapshots

if TYPE_CHECKING:
    from odin_drills.steps.burn import BurnRateMonitor
    from odin_drills.steps.shifted_baseline import Rebaseline
    from odin_drills.steps.sequential import AlphaBudget

Action = Literal["proceed", "rollback_now", "rollback", "hold"]


class Verdict(BaseModel):
    action: Action
    reason: str
    decision: dict[str, Any] | None = None  # the deciding Decision, as JSON
    windows: int = 0


def _signals_from_smoke(snapshot: Snapshot, smoke: Any) -> Snapshot:
    if smoke is None:
        return snapshot
    signals = snapshot.signals.model_copy(
        update={"critical_failed": smoke.critical_failed, "noncritical_failed": smoke.noncritical_failed}
    )
    return snapshot.model_copy(update={"signals": signals})


class Judge:
    """Measures windows, evaluates them, journals every number, and returns one verdict."""

    def __init__(
        self,
        *,
        source: Any,
        baseline: Snapshot,
        policy: Any,
        journal: Any,
        smoke: Callable[[], Any] | None = None,
        stop: threading.Event | None = None,
        clock: Any = None,
        budget: "AlphaBudget | None" = None,
        burn: "BurnRateMonitor | None" = None,
        rebaseline: "Rebaseline | None" = None,
    ) -> None:
        self.source = source
        self.clock = clock if clock is not None else getattr(source, "clock", None)
        self.baseline = baseline
        self.policy = policy
        self.journal = journal
        self.smoke = smoke
        self.stop = stop or threading.Event()
        self.evaluations = 0
        self.budget = budget  # who spends how much alpha; None: this watch alone has the policy's alpha
        self.burn = burn  # the SLO's burn rates over this judge's windows (steps.burn); None: no SLO
        self.rebaseline = rebaseline  # the same hours earlier, per watch (steps.shifted_baseline); None: as given

    def _window(self, length: float, phase: str, step: str | None, pending: Snapshot | None,
                judge: Callable[[Snapshot], Any] | None = None) -> tuple[Snapshot, Any]:
        """Measure one window (merged with ``pending``), judge it (by default with the ladder) and
        journal both, all inside one measurement window of plan time."""
        from odin_drills.steps.gates import evaluate

        wall = getattr(self.source, "wall_seconds", None)
        span = (measurement_window(self.clock, length, wall(length) if callable(wall) else 0.0)
                if self.clock is not None else nullcontext())
        with span:  # the source's own window nests inside: the whole evaluation is ``length`` of plan time
            measured = self.source.measure(length)
            smoke_report = self.smoke() if self.smoke else None
            measured = _signals_from_smoke(measured, smoke_report)
            if self.burn is not None:  # slo_at_risk from the windows measured so far, this one included
                measured = self.burn.observe(measured, length)
            if smoke_report is not None:
                self.journal.append(
                    "smoke", phase=phase, step=step, report=smoke_report,
                    critical_failed=smoke_report.critical_failed, noncritical_failed=smoke_report.noncritical_failed,
                )
            window = merge_snapshots([pending, measured]) if pending is not None else measured
            if pending is not None:
                window = _signals_from_smoke(window, smoke_report)
            decision = judge(window) if judge is not None else evaluate(self.baseline, window, self.policy)
            self.evaluations += 1
            self.journal.append(
                "gate", phase=phase, step=step, window=self.evaluations, decision=decision,
                snapshot=_journaled(window) if getattr(self.journal, "keeps_snapshots", True) else {},
                merged_windows=2 if pending is not None else 1,
            )
        return window, decision

    def _rebaseline_for(self, duration: float, interval: float | None, *, phase: str, step: str | None) -> None:
        """The baseline of this watch: the span it is about to cover, read back from earlier hours
        (``steps.shifted_baseline``); where it came from is journaled before the first window."""
        needed, interval = self._planned(duration, interval)
        wall = getattr(self.source, "wall_seconds", None)
        watch_wall = needed * wall(interval) if callable(wall) else (
            self.clock.wall_seconds(duration) if self.clock is not None else duration)
        self.baseline, line = self.rebaseline(watch_wall)  # type: ignore[misc]
        self.journal.append("note", phase=phase, step=step, message=line)

    def _planned(self, duration: float, interval: float | None) -> tuple[int, float]:
        """How many windows of what length cover ``duration``."""
        interval = interval or duration
        needed = max(1, round(duration / interval))
        wall = getattr(self.source, "wall_seconds", None)
        if callable(wall) and needed > 1:
            # Under a scaled clock a window lasts at least the source's real-time floor; then fewer,
            # longer windows cover the same watch, instead of the watch stretching by the floor each time.
            fits = int(wall(duration) // wall(interval)) if wall(interval) > 0 else needed
            if fits < needed:
                needed = max(1, fits)
                interval = duration / needed
        return needed, interval

    def watch(self, duration: float, *, phase: str, step: str | None = None, interval: float | None = None) -> Verdict:
        """Judge ``duration`` seconds of plan time in windows of ``interval`` (default: one window)."""
        if self.rebaseline is not None:
            self._rebaseline_for(duration, interval, phase=phase, step=step)
        if getattr(self.policy, "judge", "fixed") == "sequential":
            return self._watch_sequential(duration, phase=phase, step=step, interval=interval)
        return self._watch_fixed(duration, phase=phase, step=step, interval=interval)

    def _watch_sequential(self, duration: float, *, phase: str, step: str | None, interval: float | None) -> Verdict:
        from odin_drills.steps.sequential import AlphaBudget, SequentialWatch

        needed, interval = self._planned(duration, interval)
        extensions_allowed = self.policy.windows.max_extensions
        budget = self.budget or AlphaBudget.single(self.policy.alpha)
        state = SequentialWatch(self.baseline, self.policy, alpha=budget.watch(phase), baseline_alpha=budget.baseline,
                                horizon=needed + extensions_allowed, interval_seconds=interval)
        consecutive = 0
        intervals = 0
        last: Any = None
        while not self.stop.is_set():
            _, decision = self._window(interval, phase, step, None, judge=state.add)
            last = decision
            intervals += 1
            verdict = decision.decision
            dump = decision.model_dump(mode="json")
            reasons = "; ".join(decision.reasons)
            if verdict == "rollback_now":
                return Verdict(action="rollback_now", reason=reasons, decision=dump, windows=intervals)
            if verdict == "rollback":
                consecutive += 1
                # conclusive evidence, or Sev 1 alerts whose rules already waited out their `for:`, act at once
                confirmations = self.policy.rollback_confirmations(
                    evidence="rollback" in (decision.evidence_tier, getattr(decision, "alert_tier", "ok"),
                                            getattr(decision, "limit_tier", "ok")))
                if consecutive >= confirmations:
                    head = (f"confirmed over {consecutive} consecutive windows: " if confirmations > 1 else
                            f"conclusive after window {intervals}: ")
                    return Verdict(action="rollback", reason=head + reasons, decision=dump, windows=intervals)
            else:
                consecutive = 0
            if verdict == "hold":
                return Verdict(action="hold", reason=reasons, decision=dump, windows=intervals)
            if intervals < needed:
                continue
            action, reason = state.conclude()
            if action is not None:
                return Verdict(action=action, reason=reason, decision=dump, windows=intervals)  # type: ignore[arg-type]
            extensions = intervals - needed + 1
            # "proceed" here: no rung fired, but an estimate is not within baseline (SequentialWatch.conclude)
            state_name = "not within baseline" if verdict == "proceed" else verdict
            if extensions <= extensions_allowed:
                self.journal.append(
                    "note", phase=phase, step=step,
                    message=(f"rollback in {consecutive} of {confirmations} windows: confirming over one more interval"
                             if verdict == "rollback" else
                             f"{state_name} after the window: collecting one more interval ({extensions}/{extensions_allowed})"
                             + (f": {reason}" if verdict == "proceed" else "")),
                )
                continue
            return Verdict(action="hold", reason=f"still {state_name} after {extensions - 1} extra windows: {reason}",
                           decision=dump, windows=intervals)
        return Verdict(
            action="hold", reason="watch stopped before a verdict",
            decision=last.model_dump(mode="json") if last is not None else None, windows=intervals,
        )

    def _watch_fixed(self, duration: float, *, phase: str, step: str | None, interval: float | None) -> Verdict:
        windows = self.policy.windows
        needed, interval = self._planned(duration, interval)
        self._planned_windows = needed
        measured: list[Snapshot] = []
        pending: Snapshot | None = None
        consecutive = 0
        intervals = 0
        last = None
        while not self.stop.is_set():
            window, decision = self._window(interval, phase, step, pending)
            last = decision
            intervals += 1
            measured.append(window)
            pending = None
            verdict = decision.decision
            dump = decision.model_dump(mode="json")
            if verdict == "rollback_now":
                return Verdict(action="rollback_now", reason="; ".join(decision.reasons), decision=dump, windows=len(measured))
            if verdict == "rollback":
                consecutive += 1
                if consecutive >= self.policy.rollback_confirmations(evidence=False):
                    reason = f"confirmed over {consecutive} consecutive windows: " + "; ".join(decision.reasons)
                    return Verdict(action="rollback", reason=reason, decision=dump, windows=len(measured))
            else:
                consecutive = 0
            if verdict == "hold":
                return Verdict(action="hold", reason="; ".join(decision.reasons), decision=dump, windows=len(measured))
            if verdict == "inconclusive":
                pending = measured.pop()  # keep collecting into the same window
            if intervals < needed:
                continue
            if verdict == "proceed":
                return self._final(measured, phase, step, dump)
            extensions = intervals - needed + 1
            if extensions <= windows.max_extensions:
                self.journal.append(
                    "note", phase=phase, step=step,
                    message=(f"rollback in {consecutive} of {self.policy.rollback_confirmations(evidence=False)} windows: "
                             "confirming over one more interval"
                             if verdict == "rollback" else
                             f"{verdict} after the window: collecting one more interval ({extensions}/{windows.max_extensions})"),
                )
                continue
            reason = f"still {verdict} after {extensions - 1} extra windows: " + "; ".join(decision.reasons)
            return Verdict(action="hold", reason=reason, decision=dump, windows=len(measured))
        return Verdict(
            action="hold", reason="watch stopped before a verdict",
            decision=last.model_dump(mode="json") if last else None, windows=len(measured),
        )

    def _final(self, measured: list[Snapshot], phase: str, step: str | None, dump: dict[str, Any]) -> Verdict:
        if len(measured) <= 1 or self._planned_windows <= 1:
            return Verdict(action="proceed", reason="; ".join(dump.get("reasons") or ["within baseline"]), decision=dump, windows=len(measured))
        from odin_drills.steps.gates import evaluate

        whole = merge_snapshots(measured)
        decision = evaluate(self.baseline, whole, self.policy)
        self.journal.append(
            "gate", phase=phase, step=step, window="all", decision=decision, snapshot=_journaled(whole),
            merged_windows=len(measured),
        )
        whole_dump = decision.model_dump(mode="json")
        reasons = "; ".join(decision.reasons)
        if decision.decision == "rollback_now":
            return Verdict(action="rollback_now", reason=f"all {len(measured)} windows together: {reasons}", decision=whole_dump, windows=len(measured))
        if decision.decision == "rollback":
            # The latest window is fine but the whole watch is not: a past breach nobody confirmed.
            # A person decides; odin does not undo a change on evidence that is no longer current.
            return Verdict(action="hold", reason=f"all {len(measured)} windows together, though the latest window is within baseline: {reasons}",
                           decision=whole_dump, windows=len(measured))
        if decision.decision == "hold":
            return Verdict(action="hold", reason=f"all {len(measured)} windows together: {reasons}", decision=whole_dump, windows=len(measured))
        return Verdict(action="proceed", reason=reasons or "within baseline", decision=whole_dump, windows=len(measured))


def _journaled(window: Snapshot) -> dict[str, Any]:
    """The window as its gate entry keeps it: raw samples become a compact histogram."""
    from odin_drills.steps.sequential import histogram_of

    data = window.model_dump(mode="json", exclude={"latency_samples_ms"})
    if data.get("latency_histogram") is None and window.latency_samples_ms:
        data["latency_histogram"] = histogram_of(window.latency_samples_ms).model_dump(mode="json")
    return data


# ---------------------------------------------------------------- replaying recorded windows

class StreamEnded(Exception):
    """A replayed stream has no more windows."""


class WindowStream:
    """A metric source that hands out recorded windows in order (``odin replay``, the benchmark)."""

    name = "replay"

    def __init__(self, windows: Any) -> None:
        self._windows = iter(windows)
        self.read = 0

    def measure(self, plan_seconds: float) -> Snapshot:
        try:
            window = next(self._windows)
        except StopIteration:
            raise StreamEnded from None
        self.read += 1
        return window

    def close(self) -> None:
        pass


class MemoryJournal:
    """Keeps what the judge journals, as (kind, fields), without validating or writing it."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.keeps_snapshots = keep  # the judge need not build what nobody keeps
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def append(self, kind: str, **fields: Any) -> None:
        if self.keep:
            self.entries.append((kind, fields))


def replay(baseline: Snapshot, windows: Any, policy: Any, *, duration: float, interval: float,
           phase: str = "t+24h", step: str | None = None, budget: "AlphaBudget | None" = None,
           journal: Any = None) -> tuple[Verdict, bool]:
    """Run recorded windows through the same watch a run uses (``Judge.watch``); returns the
    verdict and whether the stream ended before the watch did (the verdict is then a hold: the
    watch was still collecting, and a run would have held at the end of its extensions)."""
    journal = journal if journal is not None else MemoryJournal()
    source = WindowStream(windows)
    judge = Judge(source=source, baseline=baseline, policy=policy, journal=journal, budget=budget)
    try:
        return judge.watch(duration, phase=phase, step=step, interval=interval), False
    except StreamEnded:
        gates = [fields for kind, fields in getattr(journal, "entries", []) if kind == "gate"]
        last = gates[-1]["decision"] if gates else None
        reasons = "; ".join(last.reasons) if last is not None else "no window"
        return Verdict(action="hold", reason=f"the stream ended while the watch was still collecting: {reasons}",
                       decision=last.model_dump(mode="json") if last is not None else None,
                       windows=source.read), True


def judge_one_window(baseline: Any, current: Any, policy: Any) -> Any:
    """The decision a run would journal for ``current`` as the first window of a watch, by the
    policy's judge: sequential (the default: e-values, the whole alpha on this one look) or fixed
    (the per-window ladder with p-values). A series of windows is ``odin replay``'s job."""
    if policy.judge == "sequential":
        from odin_drills.steps.sequential import AlphaBudget, SequentialWatch

        budget = AlphaBudget.single(policy.alpha)
        watch = SequentialWatch(baseline, policy, alpha=budget.default_watch, baseline_alpha=budget.baseline,
                                horizon=1)
        return watch.add(current)
    from odin_drills.steps.gates import evaluate

    return evaluate(baseline, current, policy)
