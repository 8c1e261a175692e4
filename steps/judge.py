"""Watching the service against its baseline until the numbers allow a verdict.

This is where the rollback ladder meets time. Each evaluation window is measured by the plan's
metric source, smoke journeys add their signals, and ``odin_drills.steps.gates.evaluate`` decides. The loop
turns a stream of window decisions into one verdict a flow can act on:

- ``rollback_now`` acts at once; ``hold`` acts at once (a person decides);
- ``rollback`` acts only after ``policy.confirm_windows`` consecutive windows say so;
- ``inconclusive`` windows are merged with the next one (keep collecting until there is enough
  traffic), and ``watch``, ``inconclusive`` or an unconfirmed rollback at the end of the watch get up
  to ``windows.max_extensions`` extra intervals, after which the verdict is ``hold``: a window that
  never became conclusive is a question for a human, never a silent pass;
- a watch spanning several windows ends with an evaluation of all of them merged (the T+24h
  "24 h vs baseline" judgement), which can also demand a rollback or a hold.

Each evaluation — measuring the window, running the smoke journeys, the verdict and its journal
entries — is one measurement window on the run's clock (``odin_drills.steps.clock``): it advances
plan time by the window's configured length and no more. Under a scaled clock the smoke journeys
and the statistics take real time that would otherwise count N times over (a second of it is 5.6
plan hours at N = 20000); a real gate window likewise ends with its verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Literal

from pydantic import BaseModel

from odin_drills.steps.clock import measurement_window
from odin_drills.steps.snapshot import Snapshot, merge_snapshots

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
    ) -> None:
        self.source = source
        self.clock = clock if clock is not None else getattr(source, "clock", None)
        self.baseline = baseline
        self.policy = policy
        self.journal = journal
        self.smoke = smoke
        self.stop = stop or threading.Event()
        self.evaluations = 0

    def _window(self, length: float, phase: str, step: str | None, pending: Snapshot | None) -> tuple[Snapshot, Any]:
        from odin_drills.steps.gates import evaluate

        wall = getattr(self.source, "wall_seconds", None)
        span = (measurement_window(self.clock, length, wall(length) if callable(wall) else 0.0)
                if self.clock is not None else nullcontext())
        with span:  # the source's own window nests inside: the whole evaluation is ``length`` of plan time
            measured = self.source.measure(length)
            smoke_report = self.smoke() if self.smoke else None
            measured = _signals_from_smoke(measured, smoke_report)
            if smoke_report is not None:
                self.journal.append(
                    "smoke", phase=phase, step=step, report=smoke_report,
                    critical_failed=smoke_report.critical_failed, noncritical_failed=smoke_report.noncritical_failed,
                )
            window = merge_snapshots([pending, measured]) if pending is not None else measured
            if pending is not None:
                window = _signals_from_smoke(window, smoke_report)
            decision = evaluate(self.baseline, window, self.policy)
            self.evaluations += 1
            self.journal.append(
                "gate", phase=phase, step=step, window=self.evaluations, decision=decision,
                snapshot=window.model_dump(mode="json", exclude={"latency_samples_ms"}),
            )
        return window, decision

    def watch(self, duration: float, *, phase: str, step: str | None = None, interval: float | None = None) -> Verdict:
        """Judge ``duration`` seconds of plan time in windows of ``interval`` (default: one window)."""
        interval = interval or duration
        windows = self.policy.windows
        needed = max(1, round(duration / interval))
        wall = getattr(self.source, "wall_seconds", None)
        if callable(wall) and needed > 1:
            # Under a scaled clock a window lasts at least the source's real-time floor; then fewer,
            # longer windows cover the same watch, instead of the watch stretching by the floor each time.
            fits = int(wall(duration) // wall(interval)) if wall(interval) > 0 else needed
            if fits < needed:
                needed = max(1, fits)
                interval = duration / needed
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
                if consecutive >= self.policy.confirm_windows:
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
                    message=(f"rollback in {consecutive} of {self.policy.confirm_windows} windows: confirming over one more interval"
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
            "gate", phase=phase, step=step, window="all", decision=decision,
            snapshot=whole.model_dump(mode="json", exclude={"latency_samples_ms"}),
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
