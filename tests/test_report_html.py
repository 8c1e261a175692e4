"""The HTML report: parses, has its sections and charts, shows every number, escapes and redacts.

Journals are written with the real ``Journal`` on a ``ManualClock`` that advances between entries;
gate entries carry the rollback ladder's JSON as the flows write it.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Entry, Journal, read_journal
from odin_drills.reports.html import render_html

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TOKEN = "abcdefghijklmnopqrstuvwx"
WEBHOOK = "https://hooks.slack.com/services/T0/B0/XYZ"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SECTIONS = ("summary", "baseline", "timeline", "gate-charts", "gates", "decisions", "messages", "undo", "events")


# ---------------------------------------------------------------- helpers

class Strict(HTMLParser):
    """Collects every element and checks that each end tag closes the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}> "
                                 f"at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Strict:
    parser = Strict()
    parser.feed(html)
    parser.close()
    assert parser.problems == [], parser.problems[:5]
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">.*?</section>', html, re.S)
    assert match, f"no section {name}"
    return match.group(0)


def chart(html: str, metric: str) -> str:
    match = re.search(rf'<div class="chartbox" data-metric="{metric}">(<svg.*?</svg>)</div>', html, re.S)
    assert match, f"no chart for {metric}"
    return match.group(1)


def snapshot(clock: ManualClock, seconds: float, requests: int, errors: int, p95: float) -> dict:
    started = clock.now()
    clock.advance(seconds)
    return {"requests": requests, "errors": errors, "latency_ms": {"p50": p95 / 3, "p95": p95, "p99": p95 * 1.6},
            "started_at": started.isoformat(), "ended_at": clock.now().isoformat(), "source": "synthetic"}


def decision(verdict: str, err: tuple[float, float], p95: tuple[float, float], *, reasons: list[str] | None = None,
             err_p: float | None = 0.5, p95_p: float | None = None, mdr: float | None = 1.8) -> dict:
    def metric(base, cur, p, m, threshold):
        return {"baseline": base, "current": cur, "ratio": (cur / base) if base else None, "threshold": threshold,
                "floor": 0.001, "p_value": p, "min_detectable_ratio": m, "min_detectable": None, "tier": "ok",
                "test": "fisher-exact"}
    return {"decision": verdict, "reasons": reasons or [f"{verdict}: within the ladder"],
            "metrics": {"error_rate": metric(*err, err_p, mdr, 1.1), "latency_p95_ms": metric(*p95, p95_p, None, 1.1)},
            "power": 0.9, "requests": {"baseline": 10000, "current": 1000}, "confidence": 0.99, "power_target": 0.8}


def gate(journal: Journal, clock: ManualClock, phase: str, step: str, window, verdict: str, err: float, p95: float,
         *, base_err: float = 0.02, base_p95: float = 200.0, **kw) -> None:
    snap = snapshot(clock, 300, 1000, round(err * 1000), p95)
    journal.append("gate", phase=phase, step=step, window=window,
                   decision=decision(verdict, (base_err, err), (base_p95, p95), **kw), snapshot=snap)


def full_journal(path: Path) -> list[Entry]:
    """A migration that rolls back at T-0: every kind of entry the report draws."""
    clock = ManualClock(START)
    j = Journal(path, clock)
    j.append("run_started", plan="orders-db", migration="20260302T090000Z-ab12", phases=["t-1w", "t0"],
             time_scale=60.0, environment="prod", mode="migration")
    j.append("phase_started", phase="t-1w")
    j.append("undo_check", phase="t-1w", step="switch-dns", status="ok", detail="undo target reachable")
    base = snapshot(clock, 3600, 10000, 200, 200.0)
    j.append("baseline", phase="t-1w", snapshot=base, window_seconds=3600)
    j.append("phase_finished", phase="t-1w", outcome="ok")
    clock.advance(7 * 86400 - 3600)
    j.append("lock", action="acquired", environment="prod")
    j.append("phase_started", phase="t0")
    j.append("step_started", phase="t0", step="announce", step_kind="notify", changes_world=False)
    clock.advance(2)
    j.append("step_finished", phase="t0", step="announce", status="ok", detail="notified <webhook-url ***> (200)",
             undo=None, output={"message": "T-0 starts now"})
    j.append("comms", phase="t0", step="announce", channel="email", channel_kind="generic", template="t0-start",
             minute=0, status="sent", http_status=200, attempts=1, detail="answered 200",
             text="Orders DB cut-over has started")
    j.append("notify", phase="t0", step="announce", url="<webhook-url ***>", status=200)
    j.append("step_started", phase="t0", step="switch-dns", step_kind="http", changes_world=True)
    clock.advance(40)
    j.append("step_finished", phase="t0", step="switch-dns", status="ok", detail="200 OK",
             undo={"kind": "http", "method": "POST"}, output=None)
    gate(j, clock, "t0", "switch-dns", 1, "proceed", 0.021, 205.0, err_p=0.41, mdr=1.77,
         reasons=["error rate 2.10% vs baseline 2.00% is within 1.1x"])
    j.append("decision", phase="t0", step="switch-dns", action="proceed", reason="within baseline", by="odin")
    j.append("step_started", phase="t0", step="move-writes", step_kind="command", changes_world=True)
    clock.advance(25)
    j.append("step_finished", phase="t0", step="move-writes", status="failed", detail="exit 3: replica lag", undo=None)
    j.append("hold_started", phase="t0", step="move-writes", hold="hold", reason="replica lag, needs a person",
             default="rollback", deadline=(clock.now() + timedelta(hours=4)).isoformat())
    clock.advance(600)
    j.append("human_input", phase="t0", step="move-writes", action="rollback",
             reason="lag will not clear before the window closes", by="alice", at=clock.now().isoformat())
    j.append("rollback_started", phase="t0", reason="step move-writes failed: exit 3: replica lag")
    j.append("undo_started", phase="t0", step="switch-dns", undo_of=14, undo={"kind": "http"})
    clock.advance(12)
    j.append("undo_finished", phase="t0", step="switch-dns", undo_of=14, status="ok", attempts=2,
             detail="dns back on the old primary")
    gate(j, clock, "t0", "after rollback", "recheck", "rollback", 0.05, 410.0, err_p=0.0004, p95_p=0.002, mdr=1.8,
         reasons=["error rate 5.00% vs baseline 2.00% is 2.50x (> 2.0x)", "p95 latency 410 ms vs 200 ms is 2.05x"])
    j.append("rollback_finished", phase="t0", healthy=False, detail="every undo succeeded; re-check: rollback")
    j.append("phase_finished", phase="t0", outcome="rolled back")
    j.append("lock", action="released", environment="prod")
    j.append("run_finished", outcome="rolled_back_degraded", exit_code=4, detail="")
    return read_journal(path)


@pytest.fixture
def full(tmp_path: Path) -> tuple[list[Entry], str]:
    entries = full_journal(tmp_path / "journal.jsonl")
    return entries, render_html(entries)


# ---------------------------------------------------------------- structure

def test_html_parses_and_has_every_section(full):
    entries, html = full
    parsed = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    for name in SECTIONS:
        assert f'<section id="{name}">' in html, name
        assert f'href="#{name}"' in html, f"nav link to {name}"
    assert "Migration report: orders-db" in html
    summary = section(html, "summary")
    assert "20260302T090000Z-ab12" in summary and "prod" in summary and "60×" in summary
    assert "rolled back, degraded" in summary and "exit code 4" in summary
    baseline = section(html, "baseline")
    assert "10,000" in baseline and "2.00 %" in baseline and "200 ms" in baseline
    # self-contained: no scripts, no external resources
    tags = {tag for tag, _ in parsed.elements}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    for tag, attrs in parsed.elements:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert "url(" not in html and "@import" not in html


def test_timeline_chart_has_phases_steps_by_status_and_markers(full):
    _, html = full
    timeline = section(html, "timeline")
    svg = re.search(r"<svg.*?</svg>", timeline, re.S).group(0)
    for label in ("phase t-1w", "phase t0", "switch-dns", "move-writes", "announce", "gate windows", "holds &amp; approvals"):
        assert label in svg, label
    assert 'fill="#c62828"' in svg  # the failed step (and the rollback marker)
    assert 'fill="#43a047"' in svg  # the ok steps
    assert ">rollback</tspan>" in svg and ">rolled back</tspan>" in svg
    assert "≈ 6d 23h" in svg  # the week between T-1w and T-0 is compressed, and says so
    assert "by alice" in svg  # the human decision marker's title
    assert "Zoom: phase t0" in timeline


def test_error_and_latency_charts_draw_baseline_multiples_at_the_right_height(full):
    _, html = full
    for metric, baseline, label in (("error_rate", 0.02, "2.00%"), ("latency_p95_ms", 200.0, "200ms")):
        svg = chart(html, metric)
        parsed = parse(svg)
        root = parsed.elements[0][1]
        lo, hi = float(root["data-y-min"]), float(root["data-y-max"])
        top, bottom = float(root["data-plot-top"]), float(root["data-plot-bottom"])
        assert lo == 0 and hi >= 2 * baseline  # the 2x line is inside the plot
        lines = {attrs["data-ratio"]: attrs for tag, attrs in parsed.elements if tag == "line" and "data-ratio" in attrs}
        assert set(lines) == {"1.0", "1.1", "1.5", "2.0"}
        for ratio, attrs in lines.items():
            value = float(attrs["data-value"])
            assert value == pytest.approx(baseline * float(ratio))
            expected_y = bottom - (value - lo) / (hi - lo) * (bottom - top)
            assert float(attrs["y1"]) == pytest.approx(expected_y, abs=0.06)
            assert float(attrs["y2"]) == pytest.approx(expected_y, abs=0.06)
            assert top <= float(attrs["y1"]) <= bottom
        ys = [float(lines[r]["y1"]) for r in ("1.0", "1.1", "1.5", "2.0")]
        assert ys == sorted(ys, reverse=True)  # higher multiple, higher on the page
        text = "".join(parsed.text)
        assert f"baseline {label}" in text
        assert "1.1× watch" in text and "1.5× hold" in text and "2× rollback" in text
    # one dot per gate evaluation, the rollback re-check in the rollback colour at 5 %
    err = parse(chart(html, "error_rate"))
    dots = [attrs for tag, attrs in err.elements if tag == "circle"]
    assert len(dots) == 2
    assert any(d["fill"] == "#c62828" for d in dots)


def test_gate_numbers_appear_in_the_table(full):
    _, html = full
    table = section(html, "gates")
    # evaluations are grouped under a heading per phase and step
    assert table.index("phase t0 · step switch-dns") < table.index('id="g1"')
    assert table.index('id="g1"') < table.index("phase t0 · step after rollback") < table.index('id="g2"')
    row = re.search(r'<tbody id="g2">.*?</tbody>', table, re.S).group(0)
    for text in ("recheck", "1,000", "rollback", "2.00 %", "5.00 %", "2.50×", "4.0e-04", "1.80×",
                 "200 ms", "410 ms", "2.05×", "0.002", "error rate 5.00% vs baseline 2.00% is 2.50x (&gt; 2.0x)",
                 "p95 latency 410 ms vs 200 ms is 2.05x"):
        assert text in row, text
    first = re.search(r'<tbody id="g1">.*?</tbody>', table, re.S).group(0)
    for text in ("proceed", "2.10 %", "1.05×", "0.410", "1.77×", "205 ms"):
        assert text in first, text
    # the event timeline links each gate to its row
    assert '<a href="#g2">gate #2</a>' in section(html, "events")


def test_decisions_show_who_and_why(full):
    _, html = full
    decisions = section(html, "decisions")
    rows = re.findall(r"<tr>.*?</tr>", decisions.split("<tbody>")[1], re.S)
    assert len(rows) == 5  # decision, hold_started, human_input, rollback_started, rollback_finished
    human = next(r for r in rows if "alice" in r)
    assert "<b>alice</b>" in human and "lag will not clear before the window closes" in human and "rollback" in human
    odin = next(r for r in rows if "within baseline" in r)
    assert "<b>odin</b>" in odin and "proceed" in odin
    assert any("hold" in r and "replica lag, needs a person" in r and "default rollback" in r for r in rows)
    assert any("rolled back, still degraded" in r and "every undo succeeded" in r for r in rows)


def test_messages_and_undo_results(full):
    _, html = full
    messages = section(html, "messages")
    assert "email" in messages and "t0-start" in messages
    assert "Orders DB cut-over has started" in messages and "sent" in messages
    assert "T-0 starts now" in messages and "notify step" in messages  # the notify step's message
    assert "&lt;webhook-url ***&gt;" in messages
    undo = section(html, "undo")
    assert "switch-dns" in undo and "dns back on the old primary" in undo and ">2<" in undo
    assert "1 of 1 undo(s) succeeded" in undo
    assert "undo target reachable" in undo


# ---------------------------------------------------------------- untrusted text

def test_markup_in_journal_text_is_escaped(tmp_path: Path):
    clock = ManualClock(START)
    j = Journal(tmp_path / "j.jsonl", clock)
    j.append("run_started", plan="<b>plan</b>", migration="m1", phases=["t0"], time_scale=1.0, environment="e")
    j.append("phase_started", phase="t0")
    j.append("step_started", phase="t0", step='<img src=x onerror="alert(2)">', step_kind="command", changes_world=True)
    clock.advance(5)
    j.append("step_finished", phase="t0", step='<img src=x onerror="alert(2)">', status="ok", detail="</td></tr>")
    j.append("note", phase="t0", message="<script>alert('x')</script>")
    j.append("decision", phase="t0", action="proceed", reason="<script>document.cookie</script>", by="<i>eve</i>")
    gate(j, clock, "t0", "<svg onload=alert(3)>", 1, "proceed", 0.02, 200.0, reasons=["</svg><script>x</script>"])
    j.append("phase_finished", phase="t0", outcome="ok")
    html = render_html(read_journal(tmp_path / "j.jsonl"), title="<script>t</script>")
    parsed = parse(html)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # markupsafe's entities
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    assert "&lt;i&gt;eve&lt;/i&gt;" in html and "&lt;b&gt;plan&lt;/b&gt;" in html
    tags = {tag for tag, _ in parsed.elements}
    assert "script" not in tags and "img" not in tags
    assert not any(name.startswith("on") for _, attrs in parsed.elements for name in attrs)


def test_secrets_never_reach_the_page(tmp_path: Path):
    clock = ManualClock(START)
    j = Journal(tmp_path / "j.jsonl", clock)
    j.append("run_started", plan="p", migration="m", phases=["t0"], time_scale=1.0, environment="prod")
    j.append("note", phase="t0", message=f"calling with Authorization: Bearer {TOKEN}")
    j.append("comms", phase="t0", channel="slack", channel_kind="slack", template="initial", status="sent", attempts=1,
             detail=f"answered 200 from {WEBHOOK}", text=f"posted to {WEBHOOK}")
    entries = read_journal(tmp_path / "j.jsonl")
    # defence in depth: entries written by something that did not redact (an older odin, a hand edit)
    raw = dict(time=clock.now(), wall=clock.now(), phase="t0")
    entries += [
        Entry(seq=90, kind="note", data={"message": f"Bearer {TOKEN} and {WEBHOOK}"}, **raw),
        # a long note, cut for the event table right inside the secret: redacted before it is cut
        Entry(seq=91, kind="note", data={"message": "x" * 580 + f" Bearer {TOKEN}"}, **raw),
        Entry(seq=92, kind="decision", data={"action": "hold", "reason": f"see {WEBHOOK}", "by": f"Bearer {TOKEN}"}, **raw),
        Entry(seq=93, kind="comms", data={"channel": "slack", "url": WEBHOOK, "text": f"token=sekrit-{TOKEN}"}, **raw),
        Entry(seq=94, step="deploy", kind="step_finished", data={"status": "ok", "detail": f"curl -H 'Authorization: Bearer {TOKEN}'"}, **raw),
        Entry(seq=95, kind="mystery", data={"api_key": "plain-value-12345", "password": "hunter2hunter2"}, **raw),
        Entry(seq=96, kind="run_finished", data={"outcome": "failed", "exit_code": 4, "detail": f"Bearer {TOKEN}"}, **raw),
    ]
    html = render_html(entries, title=f"drill Bearer {TOKEN}",
                       scorecard={"criteria": {f"webhook {WEBHOOK} answered": True},
                                  "notes": f"Bearer {TOKEN}", "client_secret": "shhh-very-secret"})
    parse(html)
    for leaked in (TOKEN[:8], TOKEN[4:12], "hooks.slack.com/services", "T0/B0/XYZ", "plain-value-12345", "hunter2",
                   "shhh-very-secret", "sekrit"):
        assert leaked not in html, leaked
    assert "Bearer ***" in html and "&lt;webhook-url ***&gt;" in html


# ---------------------------------------------------------------- sizes and gaps

def test_empty_journal_renders(tmp_path: Path):
    html = render_html([])
    parse(html)
    assert '<section id="summary">' in html and "The journal is empty" in html
    for name in SECTIONS[1:]:
        assert f'<section id="{name}">' not in html
    assert render_html(read_journal(tmp_path / "missing.jsonl")) == html


def test_unfinished_run_without_gates(tmp_path: Path):
    clock = ManualClock(START)
    j = Journal(tmp_path / "j.jsonl", clock)
    j.append("run_started", plan="p", migration="m", phases=["t0"], time_scale=None)
    j.append("phase_started", phase="t0")
    j.append("step_started", phase="t0", step="copy", step_kind="command", changes_world=True)
    clock.advance(30)
    j.append("note", phase="t0", message="still copying")
    html = render_html(read_journal(tmp_path / "j.jsonl"))
    parse(html)
    assert "unfinished" in section(html, "summary")
    assert "never finished" in section(html, "timeline")
    assert '<section id="gates">' not in html and '<section id="gate-charts">' not in html


def legacy_journal(path: Path, clock: ManualClock, *entries: tuple[str, dict]) -> None:
    """Lines as an older odin or a hand edit left them: written raw, never checked against the entry
    models (``Journal.append`` refuses them); they are read back as legacy entries."""
    lines = []
    for seq, (kind, data) in enumerate(entries, start=1):
        lines.append(Entry(seq=seq, time=clock.now(), wall=clock.now(), kind=kind, phase="t0", step="s",
                           data=data).model_dump_json())
        clock.advance(1)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_one_gate_with_missing_and_odd_values(tmp_path: Path):
    clock = ManualClock(START)
    # a zero baseline (ratio null), no p-values, no snapshot times, a latency metric with no current value
    legacy_journal(tmp_path / "j.jsonl", clock,
                   ("gate", dict(window=1, snapshot={"requests": None},
                                 decision={"decision": "inconclusive", "reasons": None,
                                           "metrics": {"error_rate": {"baseline": 0.0, "current": 0.0, "ratio": None,
                                                                      "p_value": None, "min_detectable_ratio": None},
                                                       "latency_p95_ms": {"baseline": "n/a", "current": None}}})),
                   ("gate", dict(window=2, decision=None, snapshot=None)),
                   ("decision", dict(action=None)))
    html = render_html(read_journal(tmp_path / "j.jsonl"))
    parse(html)
    table = section(html, "gates")
    assert '<tbody id="g1">' in table and '<tbody id="g2">' in table and "–" in table
    svg = chart(html, "error_rate")
    assert svg.count("<circle") == 1
    assert "the baseline is 0" in svg
    assert "<b>odin</b>" in section(html, "decisions")


ODD_VALUES = (None, 7, -1.5, "", "<i>text</i>", [1, "<b>", None], {"nested": {"deep": "<x>"}}, True)
KINDS = ("run_started", "phase_started", "phase_finished", "step_started", "step_finished", "smoke", "baseline", "gate",
         "decision", "hold_started", "human_input", "undo_started", "undo_finished", "undo_check", "rollback_started",
         "rollback_finished", "lock", "notify", "comms", "note", "run_finished", "something_new")
KEYS = ("plan", "migration", "phases", "time_scale", "environment", "outcome", "status", "detail",
        "undo", "output", "step_kind", "changes_world", "critical_failed", "snapshot", "window_seconds", "window",
        "decision", "action", "reason", "by", "hold", "default", "deadline", "attempts", "undo_of", "healthy",
        "channel", "template", "text", "url", "to", "message", "exit_code")


@pytest.mark.parametrize("odd", ODD_VALUES, ids=repr)
def test_every_kind_with_odd_values_renders(tmp_path: Path, odd):
    """Entries whose fields hold the wrong types (a hand-edited or older journal) never break the report."""
    clock = ManualClock(START)
    legacy_journal(tmp_path / "j.jsonl", clock, *((kind, {key: odd for key in KEYS}) for kind in KINDS))
    html = render_html(read_journal(tmp_path / "j.jsonl"), scorecard={key: odd for key in
                       ("rto_seconds", "rto_target_seconds", "rpo_seconds", "canary_writes", "lost_writes", "criteria")})
    parse(html)
    assert "<i>" not in html and "<x>" not in html


def test_hundreds_of_gates_stay_small_and_fast(tmp_path: Path):
    clock = ManualClock(START)
    j = Journal(tmp_path / "j.jsonl", clock)
    j.append("run_started", plan="p", migration="m", phases=["t+24h"], time_scale=1.0, environment="prod")
    j.append("phase_started", phase="t+24h")
    power = ("not enough traffic to rule out a 2.0x error breach (power 0.53 < 0.80 with 1000 requests against a "
             "true error rate of 4.00% vs baseline 2.00%; it would catch an error rate of 4.72% (2.4x) 80% of the time)")
    for w in range(1, 501):
        err = 0.02 + 0.004 * ((w * 7) % 5) / 5
        verdict = "rollback" if w > 497 else ("watch" if w % 50 == 0 else "inconclusive")
        gate(j, clock, "t+24h", "24h-vs-baseline", w, verdict, 0.06 if w > 497 else err, 200.0 + (w % 9),
             err_p=0.3, reasons=[power, f"error rate {err * 100:.2f}% vs baseline 2.00% is not a breach (p=0.3)"])
    j.append("decision", phase="t+24h", step="24h-vs-baseline", action="rollback", reason="confirmed", by="odin")
    j.append("phase_finished", phase="t+24h", outcome="rolled back")
    j.append("run_finished", outcome="rolled_back_healthy", exit_code=3)
    entries = read_journal(tmp_path / "j.jsonl")
    started = time.perf_counter()
    html = render_html(entries)
    elapsed = time.perf_counter() - started
    parse(html)
    assert len(html.encode()) < 300_000
    assert elapsed < 2.0
    table = section(html, "gates")
    assert table.count("<tbody id=") == 500 and '<tbody id="g500">' in table
    assert 'same as #1</i>' in table  # the repeated power sentence is written once
    assert "gate ×500" in section(html, "events")  # folded into one row of the event table
    svg = chart(html, "error_rate")
    assert 'class="dots"' in svg and "<circle" not in svg  # compact dots, no per-point titles
    assert svg.count("data-ratio=") == 4


def test_scorecard_shows_rto_rpo_and_checklist(full):
    entries, _ = full
    card = {"rto_seconds": 840, "rto_target_seconds": 900, "rpo_seconds": 75, "rpo_target_seconds": 60,
            "canary_writes": 1200, "lost_writes": 3, "region": "westeurope",
            "criteria": {"failover completed": True, "RPO within target": False, "app healthy on secondary": True}}
    html = render_html(entries, scorecard=card)
    parse(html)
    assert "DR drill report: orders-db" in html
    card_html = section(html, "scorecard")
    assert "14m" in card_html and "15m" in card_html  # RTO and its target (plan.durations.human_duration)
    assert "✓ within target" in card_html and "✗ over target" in card_html  # RTO met, RPO not
    assert "1,200" in card_html and "3" in card_html and "westeurope" in card_html
    items = re.findall(r'<li class="(pass|fail)" data-pass="(true|false)">([✓✗]) <span>(.*?)</span></li>', card_html)
    assert items == [("pass", "true", "✓", "failover completed"), ("fail", "false", "✗", "RPO within target"),
                     ("pass", "true", "✓", "app healthy on secondary")]
    assert "drill failed" in card_html and "2 of 3 criteria met" in card_html
    passed = render_html(entries, scorecard={"criteria": {"a": True, "b": True}})
    assert "drill passed" in section(passed, "scorecard") and "✗" not in section(passed, "scorecard")
