"""The journal read for the reports: gate evaluations, the ladder's thresholds, timeline lanes.

Pure data preparation shared by the HTML and Markdown reports; no markup here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import ValidationError

from odin_drills.plan.durations import human_duration
from odin_drills.plan.policy import Multipliers
from odin_drills.reports.charts import Bar, Marker, Row, TIER_COLOURS
from odin_drills.reports.formatting import (
    DECISION_COLOURS, GREY, HOLD_COLOUR, HUMAN_COLOUR, OUTCOMES, STATUS_COLOURS, as_dict, clip, ms, multiple, num,
    parse_time, pct, ratio, short_time, ts,
)
from odin_drills.steps.journal import Entry


# ---------------------------------------------------------------- the ladder's thresholds

@dataclass(frozen=True)
class Thresholds:
    """The multipliers of the baseline the rollback ladder used, and where they were read from."""

    multipliers: Multipliers
    source: str  # "policy": the journal's policy entry | "default": no (readable) entry, the plan defaults
    changed: bool = False  # runs of this migration journalled different multipliers: these are the latest

    @property
    def lines(self) -> tuple[tuple[float, str, str], ...]:
        """(multiplier, tier, colour), lowest first: what the gate charts draw."""
        m = self.multipliers
        return tuple((value, tier, TIER_COLOURS[tier]) for value, tier in
                     ((m.watch, "watch"), (m.hold, "hold"), (m.rollback, "rollback")))

    @property
    def sentence(self) -> str:
        """The multipliers in words, and where they come from: for the charts' legend and the Markdown."""
        m = self.multipliers
        listed = f"{multiple(m.watch)} (watch), {multiple(m.hold)} (hold) and {multiple(m.rollback)} (rollback)"
        if self.source == "policy":
            where = "the plan's policy as journalled at run start"
            if self.changed:
                where += " (the latest run's: runs of this migration used different multipliers)"
        else:
            where = "the default multipliers: this journal has no policy entry, so the plan's own may differ"
        return f"{listed} the baseline, {where}"


def thresholds(entries: list[Entry]) -> Thresholds:
    """The multipliers from the journal's ``policy`` entries (the latest), else the policy defaults."""
    found: list[Multipliers] = []
    for e in entries:
        if e.kind != "policy":
            continue
        raw = as_dict((e.data or {}).get("multipliers"))
        if not raw:
            continue
        try:
            found.append(Multipliers.model_validate({k: raw[k] for k in ("rollback", "hold", "watch") if k in raw}))
        except ValidationError:
            continue
    if not found:
        return Thresholds(Multipliers(), "default")
    return Thresholds(found[-1], "policy", changed=any(m != found[-1] for m in found))


def policy_summary(data: dict[str, Any]) -> str:
    """A ``policy`` entry in one line, for the event tables."""
    m = as_dict(data.get("multipliers"))
    shown = ", ".join(f"{tier} {multiple(v) if (v := num(m.get(tier))) is not None else '?'}"
                      for tier in ("watch", "hold", "rollback"))
    return f"multipliers {shown}; confidence {data.get('confidence')}, power {data.get('power')}"


# ---------------------------------------------------------------- gate evaluations

@dataclass
class Gate:
    index: int
    entry: Entry
    decision: str | None
    reasons: list[str]
    metrics: dict[str, dict[str, Any]]
    snapshot: dict[str, Any]
    window: Any
    start: float | None
    end: float

    @property
    def aggregate(self) -> bool:
        return self.window == "all"


def read_gates(entries: list[Entry]) -> list[Gate]:
    out = []
    for e in entries:
        if e.kind != "gate":
            continue
        data = e.data or {}
        decision = as_dict(data.get("decision"))
        snapshot = as_dict(data.get("snapshot"))
        metrics = as_dict(decision.get("metrics"))
        reasons = decision.get("reasons")
        reasons = [str(r) for r in reasons] if isinstance(reasons, list) else ([str(reasons)] if reasons else [])
        end = parse_time(snapshot.get("ended_at")) or ts(e.time)
        start = parse_time(snapshot.get("started_at"))
        verdict = decision.get("decision")
        out.append(Gate(index=len(out) + 1, entry=e, decision=None if verdict is None else str(verdict), reasons=reasons,
                        metrics={k: v for k, v in metrics.items() if isinstance(v, dict)}, snapshot=snapshot,
                        window=data.get("window"), start=start if start is not None and start <= end else None, end=end))
    return out


def metric_keys(gates: list[Gate]) -> list[str]:
    keys: list[str] = []
    for g in gates:
        for k in g.metrics:
            if k not in keys:
                keys.append(k)
    return sorted(keys, key=lambda k: (k != "error_rate", k))


def metric_label(key: str) -> str:
    if key == "error_rate":
        return "error rate"
    if key.startswith("latency_") and key.endswith("_ms"):
        return key[len("latency_"):-len("_ms")] + " latency"
    return key.replace("_", " ")


def metric_fmt(key: str) -> Callable[[Any], str]:
    if key == "error_rate":
        return pct
    if key.endswith("_ms"):
        return ms
    return lambda v: "–" if num(v) is None else f"{num(v):.4g}"


def gate_title(g: Gate) -> str:
    e = g.entry
    parts = [f"#{g.index} {short_time(e.time)} {e.phase or ''}/{e.step or ''} window {g.window}: {g.decision}"]
    for key, m in g.metrics.items():
        parts.append(f"{metric_label(key)} {metric_fmt(key)(m.get('current'))} ({ratio(m.get('ratio'))})")
    return " · ".join(parts)


# ---------------------------------------------------------------- timeline lanes

@dataclass
class Lane:
    name: str
    bars: list[Bar]
    steps: dict[str, list[Bar]]
    gates: list[Bar]
    holds: list[Bar]

    def rows(self) -> list[Row]:
        rows = [Row(f"phase {self.name}", self.bars, strong=True)]
        rows += [Row(name, bars, indent=1) for name, bars in self.steps.items()]
        if self.holds:
            rows.append(Row("holds & approvals", self.holds, indent=1))
        if self.gates:
            rows.append(Row("gate windows", self.gates, indent=1))
        return rows


def _close_hold(open_holds: list[Entry], end: Entry, lane: Lane, how: str) -> None:
    """The open hold at ``end``'s phase and step becomes a bar ending at ``end``, saying ``how`` it ended."""
    hold = next((h for h in open_holds if h.phase == end.phase and h.step == end.step), None)
    if hold is None:
        return
    open_holds.remove(hold)
    lane.holds.append(Bar(ts(hold.time), ts(end.time), HOLD_COLOUR,
                          f"{hold.data.get('hold') or 'hold'} at {end.step or end.phase}: {short_time(hold.time)} → "
                          f"{short_time(end.time)}, {how}"))


def lanes(entries: list[Entry], gates: list[Gate]) -> tuple[list[Lane], list[tuple[str, Marker]]]:
    """One lane per phase (its bar, step bars, holds, merged gate windows) and the markers with their lane."""
    end_of_journal = ts(entries[-1].time) if entries else 0.0
    by_name: dict[str, Lane] = {}

    def lane(phase: str | None) -> Lane:
        key = phase or "(no phase)"
        if key not in by_name:
            by_name[key] = Lane(key, [], {}, [], [])
        return by_name[key]

    open_phases: dict[str, list[Entry]] = {}
    open_steps: dict[tuple[str | None, str | None], list[Entry]] = {}
    open_holds: list[Entry] = []
    markers: list[tuple[str, Marker]] = []
    for e in entries:
        d = e.data or {}
        t = ts(e.time)
        when = short_time(e.time)
        if e.kind == "phase_started":
            name = str(d.get("phase") or e.phase or "")
            lane(name)
            open_phases.setdefault(name, []).append(e)
        elif e.kind == "phase_finished":
            name = str(d.get("phase") or e.phase or "")
            start = open_phases.get(name, []).pop(0) if open_phases.get(name) else e
            outcome = str(d.get("outcome") or "")
            colour = "#546e7a" if outcome == "ok" else ("#c62828" if "roll" in outcome or "fail" in outcome else "#78909c")
            lane(name).bars.append(Bar(ts(start.time), t, colour,
                                       f"phase {name}: {short_time(start.time)} → {when} "
                                       f"({human_duration(t - ts(start.time))}), {outcome or '?'}"))
        elif e.kind == "step_started":
            lane(e.phase).steps.setdefault(str(e.step or d.get("step") or "step"), [])
            open_steps.setdefault((e.phase, e.step), []).append(e)
        elif e.kind == "step_finished":
            queue = open_steps.get((e.phase, e.step)) or []
            start = queue.pop(0) if queue else e
            status = str(d.get("status") or "?")
            name = str(e.step or d.get("step") or "step")
            lane(e.phase).steps.setdefault(name, []).append(Bar(
                ts(start.time), t, STATUS_COLOURS.get(status, GREY),
                f"{name} ({start.data.get('step_kind') or 'step'}): {status}, {short_time(start.time)} → {when} "
                f"({human_duration(t - ts(start.time))}) {clip(str(d.get('detail') or ''), 240)}"))
        elif e.kind == "hold_started":
            open_holds.append(e)
        elif e.kind == "hold_interrupted":  # the wait ended undecided: its bar ends here (a resume re-opens it)
            _close_hold(open_holds, e, lane(e.phase), f"interrupted by {d.get('signal')}, undecided "
                                                      f"(deadline {d.get('deadline')})")
        elif e.kind == "human_input":
            _close_hold(open_holds, e, lane(e.phase), f"{d.get('action')} by {d.get('by') or 'odin'}: "
                                                      f"{clip(str(d.get('reason') or ''), 240)}")
            markers.append((lane(e.phase).name, Marker(t, HUMAN_COLOUR, f"{when} {e.step or e.phase or ''}: "
                            f"{d.get('action')} by {d.get('by') or 'odin'}: {clip(str(d.get('reason') or ''), 240)}")))
        elif e.kind == "decision":
            action = str(d.get("action") or "?")
            markers.append((lane(e.phase).name, Marker(t, DECISION_COLOURS.get(action, GREY),
                            f"{when} {e.step or e.phase or ''}: {action} by {d.get('by') or 'odin'}: "
                            f"{clip(str(d.get('reason') or ''), 240)}")))
        elif e.kind == "rollback_started":
            markers.append((lane(e.phase).name, Marker(t, "#c62828", f"{when} rollback started: "
                            f"{clip(str(d.get('reason') or ''), 240)}", shape="line", label="rollback")))
        elif e.kind == "rollback_finished":
            healthy = bool(d.get("healthy"))
            markers.append((lane(e.phase).name, Marker(t, "#2e7d32" if healthy else "#e65100",
                            f"{when} rolled back, {'healthy' if healthy else 'still degraded'}: {d.get('detail') or ''}",
                            shape="line", label="rolled back")))
        elif e.kind == "run_finished":
            outcome = str(d.get("outcome") or "")
            short, colour, _ = OUTCOMES.get(outcome, (outcome or "finished", GREY, ""))
            markers.append(("", Marker(t, colour, f"{when} run finished: {short}", shape="line", label=short)))
    for (phase, _), queue in open_steps.items():
        for start in queue:
            name = str(start.step or "step")
            lane(phase).steps.setdefault(name, []).append(Bar(
                ts(start.time), max(ts(start.time), end_of_journal), STATUS_COLOURS["unfinished"],
                f"{name}: started {short_time(start.time)}, never finished"))
    for name, queue in open_phases.items():
        for start in queue:
            lane(name).bars.append(Bar(ts(start.time), max(ts(start.time), end_of_journal), "#90a4ae",
                                       f"phase {name}: started {short_time(start.time)}, no phase_finished"))
    for hold in open_holds:
        lane(hold.phase).holds.append(Bar(ts(hold.time), max(ts(hold.time), end_of_journal), HOLD_COLOUR,
                                          f"{hold.data.get('hold') or 'hold'}: started {short_time(hold.time)}, "
                                          "no answer recorded"))
    # gate windows, contiguous windows with the same decision merged into one bar
    per_lane: dict[str, list[Gate]] = {}
    for g in gates:
        if not g.aggregate:
            per_lane.setdefault(lane(g.entry.phase).name, []).append(g)
    for name, items in per_lane.items():
        merged: list[list[Any]] = []  # [start, end, decision, count]
        for g in sorted(items, key=lambda g: g.start if g.start is not None else g.end):
            start = g.start if g.start is not None else g.end
            if merged and merged[-1][2] == g.decision and start <= merged[-1][1] + 1.0:
                merged[-1][1] = max(merged[-1][1], g.end)
                merged[-1][3] += 1
            else:
                merged.append([start, g.end, g.decision, 1])
        for start, end, decision, count in merged:
            by_name[name].gates.append(Bar(start, end, DECISION_COLOURS.get(str(decision), GREY),
                                           f"{count} gate window(s): {decision}, "
                                           f"{short_time(datetime.fromtimestamp(start, timezone.utc))}"
                                           f" → {short_time(datetime.fromtimestamp(end, timezone.utc))}"))
    return list(by_name.values()), markers
