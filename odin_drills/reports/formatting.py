"""Numbers, times and journal text as the reports show them: plain text, never markup.

Escaping is the templates' job (the HTML environment autoescapes); redaction happens here and
again where a template prints a value (``odin_drills.reports.templating``). Every helper accepts the
wrong type (a hand-edited or older journal) and shows ``–`` rather than failing.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

from odin_drills.plan.durations import human_duration
from odin_drills.steps.redact import redact, redact_text

OUTCOMES: dict[str, tuple[str, str, str]] = {
    "completed": ("completed", "#2e7d32", "Completed: the migration is declared done."),
    "rolled_back_healthy": ("rolled back, healthy", "#1565c0",
                            "Rolled back, healthy: every undo ran and the service is back within baseline."),
    "rolled_back_degraded": ("rolled back, degraded", "#e65100",
                             "Rolled back, still degraded: check the undo and re-check sections."),
    "failed": ("failed", "#c62828", "Failed: see the timeline."),
    "refused": ("refused", "#616161", "Refused before changing anything: see the last note."),
    "interrupted": ("interrupted", "#6a1b9a", "Interrupted by a signal after the step in flight: resume it "
                    "(odin migrate PLAN --resume) or roll it back (odin rollback PLAN)."),
    "outage_ended": ("outage ended, failback waiting", "#6a1b9a",
                     "The drill's own outage was ended outside failback.window; the failback waits for the window "
                     "(odin rollback PLAN again in it, or with --force)."),
}
DECISION_COLOURS = {
    "proceed": "#2e7d32", "inconclusive": "#90a4ae", "watch": "#c29200", "hold": "#e65100",
    "rollback": "#c62828", "rollback_now": "#7f0000",
}
STATUS_COLOURS = {"ok": "#43a047", "failed": "#c62828", "noop": "#78909c", "skipped": "#b0bec5",
                  "unfinished": "#ffb300", "none": "#78909c", "unreachable": "#c62828"}
GREY = "#607d8b"
HUMAN_COLOUR = "#1565c0"
HOLD_COLOUR = "#ffb300"


# ---------------------------------------------------------------- numbers

def num(value: Any) -> float | None:
    """A finite float, or None for anything else (bools, text, NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def pct(value: Any) -> str:
    v = num(value)
    if v is None:
        return "–"
    p = v * 100
    return f"{p:.2f} %" if p == 0 or abs(p) >= 0.01 else f"{p:.2g} %"


def ms(value: Any) -> str:
    v = num(value)
    if v is None:
        return "–"
    return f"{v:.0f} ms" if abs(v) >= 100 or v == int(v) else f"{v:.1f} ms"


def ratio(value: Any) -> str:
    v = num(value)
    return "–" if v is None else f"{v:.2f}×"


def p_value(value: Any) -> str:
    v = num(value)
    if v is None:
        return "–"
    return f"{v:.1e}" if 0 < v < 0.001 else f"{v:.3f}"


def e_value(value: Any) -> str:
    v = num(value)
    if v is None:
        return "–"
    return f"{v:.3g}" if 0.01 <= v < 1000 else f"{v:.2e}"


def evidence(decision: Any, key: str) -> str:
    """The evidence behind one metric of a gate, whichever judge made it: the fixed judge's
    one-window p-value (``p=0.003``), or the sequential judge's e-value against its threshold
    (``e=2.07e+04 ≥ 4.8e+03, hold``: the highest rung that fired, else the lowest rung's e-value,
    which is the largest, so the reader sees how close the watch came)."""
    decision = decision if isinstance(decision, dict) else {}
    found = decision.get("evidence")
    metric = found.get(key) if isinstance(found, dict) else None
    if not isinstance(metric, dict):
        metrics = decision.get("metrics")
        m = metrics.get(key) if isinstance(metrics, dict) else None
        return f"p={p_value(m.get('p_value'))}" if isinstance(m, dict) else "–"
    rungs = metric.get("rungs") if isinstance(metric.get("rungs"), dict) else {}
    threshold = e_value(metric.get("e_threshold"))
    fired = [(name, r) for name, r in rungs.items() if isinstance(r, dict) and r.get("fired")]
    if fired:
        name, rung = fired[-1]
        return f"e={e_value(rung.get('e_value'))} ≥ {threshold}, {name}"
    values = [num(r.get("e_value")) for r in rungs.values() if isinstance(r, dict)]
    values = [v for v in values if v is not None]
    if not values:
        return f"no e-value ({metric.get('data', 'no data')})"
    return f"e={e_value(max(values))} < {threshold}"


def integer(value: Any) -> str:
    v = num(value)
    if v is None:
        return "–" if value is None else str(value)
    return f"{int(v):,}" if v == int(v) else f"{v:g}"


def seconds(value: Any) -> str:
    """A duration in seconds as people say it (``odin_drills.plan.durations.human_duration``)."""
    return human_duration(num(value))


def multiple(r: float) -> str:
    """A multiplier of the baseline: ``2×``, ``1.1×``."""
    return f"{r:g}×"


# ---------------------------------------------------------------- text

def clip(text: Any, limit: int) -> str:
    """``text`` redacted, then cut to ``limit`` characters (redact first: a cut secret no longer matches)."""
    text = redact_text(str(text))
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def text(value: Any, limit: int | None = None) -> str:
    """Journal text to show: structures as JSON, secrets scrubbed, cut to ``limit``; empty for nothing."""
    if value is None or value == "":
        return ""
    shown = value if isinstance(value, str) else json.dumps(redact(value), default=str, ensure_ascii=False)
    return clip(shown, limit) if limit else redact_text(shown)


def plain(value: Any) -> str:
    """``str(value)``, but empty for None."""
    return "" if value is None else str(value)


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else ([] if value is None else [value])


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- times (plan time, UTC)

def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def ts(moment: datetime) -> float:
    return aware(moment).timestamp()


def parse_time(value: Any) -> float | None:
    if isinstance(value, datetime):
        return ts(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return ts(datetime.fromisoformat(value))
    except ValueError:
        return None


def short_time(moment: datetime) -> str:
    return f"{aware(moment).astimezone(timezone.utc):%m-%d %H:%M:%S}"


def full_time(moment: datetime) -> str:
    return f"{aware(moment).astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


def verified_as(entry: Any) -> str:
    """A decision's checked identity beside its typed name: what odin verified for a person's
    answer (``human_input``), "not recorded" in journals from before it was; nothing for odin's own."""
    if getattr(entry, "kind", None) != "human_input":
        return ""
    data = getattr(entry, "data", None) or {}
    return str(data.get("verified_as") or "not recorded")
