"""Hand-drawn SVG charts for the HTML report: no plotting library, no JavaScript, no external files.

Each function returns one ``<svg>`` element as ``Markup``, ready for an autoescaping template. The
drawing is numeric, so it is built here rather than in a template; every piece of text in it is
redacted and escaped here (``esc``) before the whole is marked safe, so a caller may pass journal
text straight through. Times are plan time as POSIX seconds (UTC).

``TimeAxis`` maps time to x and *compresses idle gaps*: a migration's phases are a week, an hour
and a day apart, and on a linear axis the T-0 steps would be invisible next to the wait. A gap
larger than a share of the time that is drawn becomes a narrow grey band labelled with what it
hides (``≈ 6 d 23 h``).

Charts carry machine-readable attributes so tests (and curious readers) can check what was drawn:
the value chart's ``<svg>`` has ``data-y-min``/``data-y-max``/``data-plot-top``/``data-plot-bottom``
(y = bottom - (v - min) / (max - min) * (bottom - top)), and each reference line has
``data-ratio`` and ``data-value``. The reference lines are the multipliers the caller passes: the
plan's policy as journalled (``odin_drills.reports.journal_view.thresholds``), not constants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from odin_drills.plan.durations import human_duration
from odin_drills.reports.formatting import clip, multiple, utc
from odin_drills.steps.redact import redact_text

TIER_COLOURS = {"watch": "#c29200", "hold": "#e65100", "rollback": "#c62828"}
"""The colour of each rung of the rollback ladder's reference lines."""

_NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                 86400, 172800, 604800)


def esc(value: object) -> str:
    """Text safe for HTML and SVG: secrets scrubbed, markup escaped (as the templates escape). ``None`` is empty."""
    if value is None:
        return ""
    return str(escape(redact_text(str(value)).replace("\x00", "\ufffd")))


def n(value: float) -> str:
    """A compact SVG coordinate."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


# ---------------------------------------------------------------- axes

class TimeAxis:
    """Time to x on [x0, x1], with long idle gaps compressed into narrow bands."""

    def __init__(self, spans: Iterable[tuple[float, float]], x0: float, x1: float, *, gap_px: float = 44.0,
                 compress: bool = True) -> None:
        ordered = sorted((min(a, b), max(a, b)) for a, b in spans if math.isfinite(a) and math.isfinite(b))
        if not ordered:
            ordered = [(0.0, 0.0)]
        merged: list[list[float]] = []
        for a, b in ordered:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        gaps = [(merged[i][1], merged[i + 1][0]) for i in range(len(merged) - 1)]
        squeezed: set[int] = set()
        if compress:
            for _ in range(10):  # compressing one gap makes the others relatively larger
                drawn = sum(b - a for a, b in merged) + sum(g1 - g0 for i, (g0, g1) in enumerate(gaps) if i not in squeezed)
                new = {i for i, (g0, g1) in enumerate(gaps) if i not in squeezed and g1 - g0 > max(0.12 * drawn, 60.0)}
                if not new:
                    break
                squeezed |= new
        parts: list[tuple[float, float]] = []
        start = merged[0][0]
        for i, (g0, g1) in enumerate(gaps):
            if i in squeezed:
                parts.append((start, g0))
                start = g1
        parts.append((start, merged[-1][1]))

        width = max(1.0, x1 - x0)
        if len(parts) > 1:
            gap_px = min(gap_px, width * 0.4 / (len(parts) - 1))
        avail = width - gap_px * (len(parts) - 1)
        total = sum(b - a for a, b in parts)
        pad = total * 0.015 if total > 0 else 1.0  # a margin, so a segment of one instant still has a width
        weights = [(b - a) + 2 * pad for a, b in parts]
        scale = avail / sum(weights)
        self.x0, self.x1 = x0, x1
        self.segments: list[tuple[float, float, float, float]] = []  # (t_from, t_to, x_from, x_to)
        self.gaps: list[tuple[float, float, float]] = []  # (x_from, x_to, seconds hidden)
        x = x0
        for i, ((a, b), w) in enumerate(zip(parts, weights)):
            px = w * scale
            self.segments.append((a - pad, b + pad, x, x + px))
            x += px
            if i < len(parts) - 1:
                self.gaps.append((x, x + gap_px, parts[i + 1][0] - b))
                x += gap_px

    def segment_of(self, t: float) -> int:
        for i, (_, tb, _, _) in enumerate(self.segments):
            if t <= tb:
                return i
        return len(self.segments) - 1

    def x(self, t: float) -> float:
        previous = None
        for ta, tb, xa, xb in self.segments:
            if t < ta:
                if previous is None:
                    return xa
                pta, ptb, pxa, pxb = previous  # inside a compressed gap: cross the band linearly
                return pxb + (xa - pxb) * (t - ptb) / max(1e-9, ta - ptb)
            if t <= tb:
                return xa + (xb - xa) * (t - ta) / max(1e-9, tb - ta)
            previous = (ta, tb, xa, xb)
        return self.segments[-1][3]

    def ticks(self, min_px: float = 105.0) -> list[tuple[float, str]]:
        """(x, label) pairs: a time scale per segment; a segment too short for one is labelled at its middle."""
        out: list[tuple[float, str]] = []
        last_day = None
        for ta, tb, xa, xb in self.segments:
            count = int((xb - xa) // min_px)
            found = False
            if count >= 1:
                step = next((s for s in _NICE_SECONDS if s >= (tb - ta) / count), None)
                if step is None:
                    step = 604800 * math.ceil((tb - ta) / count / 604800)
                t = math.ceil(ta / step) * step
                while t <= tb:
                    moment = utc(t)
                    day = moment.date()
                    if step >= 86400:
                        label = f"{moment:%m-%d}"
                    elif not found or day != last_day:
                        label = f"{moment:%m-%d %H:%M}" if step >= 60 else f"{moment:%m-%d %H:%M:%S}"
                    else:
                        label = f"{moment:%H:%M}" if step >= 60 else f"{moment:%H:%M:%S}"
                    out.append((self.x(t), label))
                    last_day, found = day, True
                    t += step
            if not found and xb - xa >= 70:
                middle = utc((ta + tb) / 2)
                out.append(((xa + xb) / 2, f"{middle:%m-%d %H:%M}" if tb - ta >= 60 else f"{middle:%m-%d %H:%M:%S}"))
                last_day = middle.date()
        return out


def nice_step(span: float, count: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def _axis_svg(axis: TimeAxis, top: float, bottom: float) -> list[str]:
    """Gap bands, vertical grid lines and tick labels under ``bottom``."""
    out = []
    for xa, xb, hidden in axis.gaps:
        out.append(f'<rect class="gap" x="{n(xa)}" y="{n(top)}" width="{n(xb - xa)}" height="{n(bottom - top)}">'
                   f"<title>{esc(human_duration(hidden))} with nothing to draw (compressed)</title></rect>")
        out.append(f'<text class="gapl" x="{n((xa + xb) / 2)}" y="{n(bottom + 24)}">≈ {esc(human_duration(hidden))}</text>')
    for x, label in axis.ticks():
        out.append(f'<line class="grid" x1="{n(x)}" y1="{n(top)}" x2="{n(x)}" y2="{n(bottom)}"/>')
        out.append(f'<text class="tick" x="{n(x)}" y="{n(bottom + 12)}">{esc(label)}</text>')
    out.append(f'<line class="axis" x1="{n(axis.x0)}" y1="{n(bottom)}" x2="{n(axis.x1)}" y2="{n(bottom)}"/>')
    return out


# ---------------------------------------------------------------- timeline (Gantt)

@dataclass
class Bar:
    start: float
    end: float
    color: str
    title: str = ""


@dataclass
class Row:
    label: str
    bars: list[Bar] = field(default_factory=list)
    strong: bool = False
    indent: int = 0


@dataclass
class Marker:
    at: float
    color: str
    title: str
    shape: str = "diamond"  # diamond (in the marker row) | line (across the chart, labelled)
    label: str = ""


def timeline_svg(rows: Sequence[Row], markers: Sequence[Marker] = (), *, width: int = 960,
                 caption: str = "timeline") -> Markup:
    """Horizontal bars on a plan-time axis; the first row holds the diamond markers when there are any."""
    x0, x1 = 204.0, width - 14.0  # labels take the first 196 px
    row_h, top = 17.0, 16.0
    diamonds = [m for m in markers if m.shape != "line"]
    all_rows = ([Row("decisions", strong=True)] if diamonds else []) + list(rows)
    spans = [(b.start, b.end) for r in all_rows for b in r.bars] + [(m.at, m.at) for m in markers]
    axis = TimeAxis(spans, x0, x1)
    bottom = top + row_h * len(all_rows)
    height = bottom + 32
    out = [f'<svg class="chart timeline" viewBox="0 0 {width} {n(height)}" role="img" aria-label="{esc(caption)}">']
    for i, row in enumerate(all_rows):
        y = top + i * row_h
        if i % 2 == 0:
            out.append(f'<rect class="stripe" x="0" y="{n(y)}" width="{width}" height="{n(row_h)}"/>')
        label = clip(row.label, 32 - 2 * row.indent)
        cls = "rl b" if row.strong else "rl"
        out.append(f'<text class="{cls}" x="{n(6 + 12 * row.indent)}" y="{n(y + 12.5)}">{esc(label)}'
                   + (f"<title>{esc(row.label)}</title>" if label != row.label else "") + "</text>")
    out += _axis_svg(axis, top, bottom)
    for i, row in enumerate(all_rows):
        y = top + i * row_h
        h = row_h - 6 if not row.strong else row_h - 4
        for bar in row.bars:
            xa, xb = axis.x(bar.start), axis.x(bar.end)
            w = max(2.5, xb - xa)
            title = f"<title>{esc(bar.title)}</title>" if bar.title else ""
            out.append(f'<rect x="{n(xa)}" y="{n(y + (row_h - h) / 2)}" width="{n(w)}" height="{n(h)}" rx="2" '
                       f'fill="{esc(bar.color)}">{title}</rect>')
    for m in diamonds:
        x, y = axis.x(m.at), top + row_h / 2
        out.append(f'<path d="M{n(x)} {n(y - 6)}l5 6l-5 6l-5-6z" fill="{esc(m.color)}" stroke="#fff" stroke-width=".8">'
                   f"<title>{esc(m.title)}</title></path>")
    groups: list[list] = []  # [x, end of text, [(label, colour)]]: labels too close share one line of text
    for m in sorted((m for m in markers if m.shape == "line"), key=lambda m: m.at):
        x = axis.x(m.at)
        out.append(f'<line x1="{n(x)}" y1="{n(top - 4)}" x2="{n(x)}" y2="{n(bottom)}" stroke="{esc(m.color)}" '
                   f'stroke-width="1.5" stroke-dasharray="4 3"><title>{esc(m.title)}</title></line>')
        if not m.label:
            continue
        if groups and x < groups[-1][1] + 8:
            groups[-1][2].append((m.label, m.color))
            groups[-1][1] += 6.2 * (len(m.label) + 3)
        else:
            groups.append([x, x + 3 + 6.2 * len(m.label), [(m.label, m.color)]])
    for x, end, labels in groups:
        anchor = ' text-anchor="end"' if end > width - 4 else ""
        tx = x - 3 if anchor else x + 3
        spans = " · ".join(f'<tspan fill="{esc(colour)}">{esc(label)}</tspan>' for label, colour in labels)
        out.append(f'<text class="ml" x="{n(tx)}" y="{n(top - 5)}"{anchor}>{spans}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # every text piece above went through esc()


# ---------------------------------------------------------------- values over time

@dataclass
class Point:
    t: float
    value: float
    color: str
    title: str = ""
    aggregate: bool = False  # a whole-watch evaluation: drawn hollow, not joined by the line
    group: str = ""  # the line breaks where the group changes (e.g. a new phase)


def _ratio_attr(r: float) -> str:
    """``data-ratio``: one decimal (``2.0``, ``1.1``), more only when the multiplier has them (``1.25``)."""
    return f"{r:.1f}" if abs(r * 10 - round(r * 10)) < 1e-9 else f"{r:g}"


def series_svg(points: Sequence[Point], baselines: Sequence[tuple[float, float | None]], *,
               fmt: Callable[[float], str], caption: str, ratios: Sequence[tuple[float, str, str]],
               min_top: float = 1.0, width: int = 960, height: int = 270, detail_limit: int = 150) -> Markup:
    """Values over time as a line with dots, the baseline and its reference multiples as horizontal lines.

    ``ratios`` are (multiplier, tier, colour): the policy's watch, hold and rollback multipliers.

    ``baselines`` pairs a time with the baseline in force then; consecutive equal baselines draw one
    line. Up to ``detail_limit`` points get a hover title each; more are drawn as compact dots.
    """
    x0, x1 = 70.0, width - 150.0
    top, bottom = 22.0, height - 36.0
    pts = sorted((p for p in points if p.value is not None and math.isfinite(p.value)), key=lambda p: p.t)
    axis = TimeAxis([(p.t, p.t) for p in pts] + [(t, t) for t, _ in baselines], x0, x1)

    segments: list[tuple[float, float, float]] = []  # (t_from, t_to, baseline)
    for t, b in sorted(baselines, key=lambda tb: tb[0]):
        if b is None or not math.isfinite(b):
            continue
        if segments and segments[-1][2] == b:
            segments[-1] = (segments[-1][0], t, b)
        else:
            segments.append((t, t, b))
    top_ratio = max((r for r, _, _ in ratios), default=1.0)
    bmax = max((b for _, _, b in segments), default=0.0)
    vmax = max((p.value for p in pts), default=0.0)
    ref_top = top_ratio * bmax * 1.15
    hi = max(ref_top, vmax * 1.08, min_top if bmax <= 0 and vmax <= 0 else 0.0)
    cap = max(ref_top, 6 * bmax) if bmax > 0 else math.inf
    hi = min(hi, cap) if hi > 0 else min_top
    step = nice_step(hi)
    hi = step * math.ceil(hi / step - 1e-9)
    lo = 0.0

    def y(v: float) -> float:
        return bottom - (min(v, hi) - lo) / (hi - lo) * (bottom - top)

    out = [f'<svg class="chart series" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(caption)}" '
           f'data-y-min="{lo!r}" data-y-max="{hi!r}" data-plot-top="{top!r}" data-plot-bottom="{bottom!r}">']
    out.append(f'<text class="ct" x="{n(x0)}" y="13">{esc(caption)}</text>')
    out += _axis_svg(axis, top, bottom)
    v = 0.0
    while v <= hi + step / 2:
        out.append(f'<line class="hgrid" x1="{n(x0)}" y1="{n(y(v))}" x2="{n(x1)}" y2="{n(y(v))}"/>')
        out.append(f'<text class="ytick" x="{n(x0 - 5)}" y="{n(y(v) + 3.5)}">{esc(fmt(v))}</text>')
        v += step

    labels: list[list] = []  # [y, text, colour], spread apart afterwards
    for i, (ta, tb, b) in enumerate(segments):
        if len(segments) == 1:
            xa, xb = x0, x1
        else:
            xa, xb = max(x0, axis.x(ta) - 4), min(x1, axis.x(tb) + 4)
        last = i == len(segments) - 1
        lines = [(1.0, "baseline", "#263238")] + [(r, tier, colour) for r, tier, colour in ratios]
        for r, tier, colour in lines:
            value = b * r
            cls = "base" if r == 1.0 else "ref"
            dash = "" if r == 1.0 else ' stroke-dasharray="6 4"'
            out.append(f'<line class="{cls}" data-ratio="{_ratio_attr(r)}" data-value="{value!r}" data-tier="{esc(tier)}" '
                       f'x1="{n(xa)}" y1="{n(y(value))}" x2="{n(xb)}" y2="{n(y(value))}" stroke="{esc(colour)}"{dash}>'
                       f"<title>{esc(tier)}: {esc(multiple(r))} baseline = {esc(fmt(value))}</title></line>")
            if last:
                text = f"baseline {fmt(value)}" if r == 1.0 else f"{multiple(r)} {tier} {fmt(value)}"
                labels.append([y(value) + 3.5, text, colour])
    labels.sort(key=lambda item: -item[0])  # bottom first; push each label up clear of the one below
    for i in range(1, len(labels)):
        labels[i][0] = min(labels[i][0], labels[i - 1][0] - 11)
    for ly, text, colour in labels:
        out.append(f'<text class="rlab" x="{n(x1 + 5)}" y="{n(ly)}" fill="{esc(colour)}">{esc(text)}</text>')

    # the line: per group, broken at compressed gaps
    runs: list[list[Point]] = []
    for p in (p for p in pts if not p.aggregate):
        if runs and runs[-1][-1].group == p.group and axis.segment_of(runs[-1][-1].t) == axis.segment_of(p.t):
            runs[-1].append(p)
        else:
            runs.append([p])
    for run in runs:
        if len(run) > 1:
            coords = " ".join(f"{n(axis.x(p.t))},{n(y(p.value))}" for p in run)
            out.append(f'<polyline class="val" points="{coords}"/>')

    clipped = 0
    if len(pts) <= detail_limit:
        for p in pts:
            x, yy = axis.x(p.t), y(p.value)
            title = f"<title>{esc(p.title)}</title>" if p.title else ""
            if p.value > hi:
                clipped += 1
                out.append(f'<path d="M{n(x)} {n(top - 1)}l5 8h-10z" fill="{esc(p.color)}">{title}</path>')
            elif p.aggregate:
                out.append(f'<rect x="{n(x - 4)}" y="{n(yy - 4)}" width="8" height="8" fill="#fff" '
                           f'stroke="{esc(p.color)}" stroke-width="2">{title}</rect>')
            else:
                out.append(f'<circle cx="{n(x)}" cy="{n(yy)}" r="3.5" fill="{esc(p.color)}">{title}</circle>')
    else:  # hundreds of points: one path of zero-length round-capped strokes per colour
        by_colour: dict[tuple[str, bool], list[str]] = {}
        for p in pts:
            if p.value > hi:
                clipped += 1
            yy = top + 2 if p.value > hi else y(p.value)
            by_colour.setdefault((p.color, p.aggregate), []).append(f"M{n(axis.x(p.t))} {n(yy)}h0")
        for (colour, aggregate), moves in by_colour.items():
            width_attr = "8" if aggregate else "5.5"
            cap = "square" if aggregate else "round"
            out.append(f'<path class="dots" d="{"".join(moves)}" stroke="{esc(colour)}" stroke-width="{width_attr}" '
                       f'stroke-linecap="{cap}"/>')
    if clipped:
        out.append(f'<text class="note" x="{n(x1)}" y="13" text-anchor="end">{clipped} point(s) above '
                   f'{esc(fmt(hi))} drawn at the top edge</text>')
    if segments and bmax <= 0:
        out.append(f'<text class="note" x="{n(x1)}" y="{n(top + 12)}" text-anchor="end">the baseline is 0, and so are its '
                   "multiples: the floor decides</text>")
    if not pts:
        out.append(f'<text class="note" x="{n((x0 + x1) / 2)}" y="{n((top + bottom) / 2)}" text-anchor="middle">'
                   "no values</text>")
    out.append("</svg>")
    return Markup("".join(out))  # every text piece above went through esc()


# ---------------------------------------------------------------- a measured value against its target

def gauge_svg(value: float | None, target: float | None, *, label: str, fmt: Callable[[float | None], str],
              width: int = 420) -> Markup:
    """A bar for ``value`` against a tick at ``target``: green when within it (lower is better)."""
    x0, x1, height = 4.0, width - 4.0, 30
    known = [v for v in (value, target) if v is not None and math.isfinite(v) and v >= 0]
    hi = max(known) * 1.25 if known and max(known) > 0 else 1.0
    scale = (x1 - x0) / hi
    ok = value is not None and target is not None and value <= target
    colour = "#2e7d32" if ok else ("#c62828" if value is not None and target is not None else "#78909c")
    out = [f'<svg class="gauge" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">',
           f'<rect x="{n(x0)}" y="6" width="{n(x1 - x0)}" height="12" rx="3" fill="#eceff1"/>']
    if value is not None and math.isfinite(value) and value >= 0:
        out.append(f'<rect x="{n(x0)}" y="6" width="{n(max(2.0, value * scale))}" height="12" rx="3" fill="{colour}">'
                   f"<title>{esc(label)}: {esc(fmt(value))}</title></rect>")
    if target is not None and math.isfinite(target) and target >= 0:
        tx = x0 + target * scale
        out.append(f'<line x1="{n(tx)}" y1="2" x2="{n(tx)}" y2="22" stroke="#263238" stroke-width="2">'
                   f"<title>target {esc(fmt(target))}</title></line>")
        out.append(f'<text class="tick" x="{n(min(tx, x1 - 40))}" y="29">target {esc(fmt(target))}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # every text piece above went through esc()
