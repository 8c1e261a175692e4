"""Reports from templates: the policy's thresholds on the charts, journal text never treated as markup
or template source, and one duration formatter for every report and message."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from markupsafe import Markup

from odin_drills.plan.durations import human_duration
from odin_drills.plan.policy import Policy
from odin_drills.reports.charts import series_svg, Point
from odin_drills.reports.drill import render_drill_markdown
from odin_drills.reports.html import render_html
from odin_drills.reports.markdown import render_markdown
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Entry, Journal, read_journal

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TOKEN = "abcdefghijklmnopqrstuvwx"
REPORTS = Path(__file__).resolve().parents[1] / "odin_drills" / "reports"


def _gate(j: Journal, clock: ManualClock, window: int, verdict: str, err: float, p95: float) -> None:
    started = clock.now()
    clock.advance(300)
    metric = lambda base, cur: {"baseline": base, "current": cur, "ratio": cur / base, "p_value": 0.2,  # noqa: E731
                                "min_detectable_ratio": 1.8}
    j.append("gate", phase="t0", step="switch", window=window,
             decision={"decision": verdict, "reasons": [f"{verdict} by the ladder"],
                       "metrics": {"error_rate": metric(0.02, err), "latency_p95_ms": metric(200.0, p95)}},
             snapshot={"requests": 1000, "errors": round(err * 1000), "started_at": started.isoformat(),
                       "ended_at": clock.now().isoformat()})


def _journal(path: Path, policy: Policy | None) -> list[Entry]:
    clock = ManualClock(START)
    j = Journal(path, clock)
    j.append("run_started", plan="orders", migration="m1", phases=["t0"], time_scale=1.0, environment="prod")
    if policy is not None:
        j.append("policy", **policy.model_dump(mode="json"))
    j.append("phase_started", phase="t0")
    _gate(j, clock, 1, "proceed", 0.021, 210.0)
    _gate(j, clock, 2, "hold", 0.041, 420.0)
    j.append("phase_finished", phase="t0", outcome="ok")
    return read_journal(path)


def _charts(html: str) -> str:
    return re.search(r'<section id="gate-charts">.*?</section>', html, re.S).group(0)


# ---------------------------------------------------------------- thresholds from the journalled policy

def test_charts_draw_the_policys_multipliers_not_constants(tmp_path: Path) -> None:
    policy = Policy.model_validate({"multipliers": {"rollback": 3.0, "hold": 2.0, "watch": 1.2}})
    entries = _journal(tmp_path / "j.jsonl", policy)
    html = render_html(entries)
    charts = _charts(html)
    for metric, baseline in (("error_rate", 0.02), ("latency_p95_ms", 200.0)):
        svg = re.search(rf'data-metric="{metric}">(<svg.*?</svg>)', charts, re.S).group(1)
        lines = dict(re.findall(r'data-ratio="([^"]+)" data-value="([^"]+)"', svg))
        assert set(lines) == {"1.0", "1.2", "2.0", "3.0"}
        for ratio, value in lines.items():
            assert float(value) == pytest.approx(baseline * float(ratio))
        assert "3× rollback" in svg and "2× hold" in svg and "1.2× watch" in svg
        assert float(re.search(r'data-y-max="([^"]+)"', svg).group(1)) >= 3 * baseline  # the 3x line is inside
    assert "1.5×" not in charts and "1.1×" not in charts
    assert "1.2× (watch), 2× (hold) and 3× (rollback)" in charts and "journalled at run start" in charts
    assert 'data-thresholds="policy"' in charts
    markdown = render_markdown(entries)
    assert "1.2× (watch), 2× (hold) and 3× (rollback)" in markdown and "1.5×" not in markdown


def test_a_journal_without_a_policy_entry_draws_the_defaults_and_says_so(tmp_path: Path) -> None:
    html = render_html(_journal(tmp_path / "j.jsonl", None))
    charts = _charts(html)
    defaults = Policy().multipliers
    assert f"{defaults.watch:g}× watch" in charts and f"{defaults.hold:g}× hold" in charts
    assert f"{defaults.rollback:g}× rollback" in charts
    assert 'data-thresholds="default"' in charts and "this journal has no policy entry" in charts


def test_the_policy_entry_is_a_registered_journal_kind(tmp_path: Path) -> None:
    entries = _journal(tmp_path / "j.jsonl", Policy())
    policy = next(e for e in entries if e.kind == "policy")
    assert policy.data["multipliers"] == {"rollback": 2.0, "hold": 1.5, "watch": 1.1}
    assert policy.data["windows"]["step"] == "5m"  # durations as plan text: JSON-ready
    assert not policy.legacy and policy.record.KIND == "policy"  # it validated against its kind's model


def test_series_svg_is_markup_with_its_text_escaped() -> None:
    svg = series_svg([Point(0.0, 1.0, "#000", title="<b>x</b>")], [(0.0, 1.0)], fmt=str, caption="<i>c</i>",
                     ratios=[(2.0, "rollback", "#c62828")])
    assert isinstance(svg, Markup)
    assert "<b>" not in svg and "<i>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg


# ---------------------------------------------------------------- hostile journal text

HOSTILE = ("<script>alert(1)</script>", "{{ 7*7 }}", "{% if %}", "{# c #}")


def _hostile(path: Path) -> list[Entry]:
    clock = ManualClock(START)
    j = Journal(path, clock)
    j.append("run_started", plan="{{ 7*7 }}<script>alert(1)</script>", migration="{% if %}", phases=["t0"],
             time_scale=1.0, environment="{# c #}")
    j.append("phase_started", phase="t0")
    j.append("step_started", phase="t0", step="{{ 7*7 }}", step_kind="command", changes_world=True)
    clock.advance(5)
    j.append("step_finished", phase="t0", step="{{ 7*7 }}", status="failed", detail=" ".join(HOSTILE))
    for text in HOSTILE:
        j.append("note", phase="t0", message=f"note: {text}")
    j.append("decision", phase="t0", action="rollback", reason=" ".join(HOSTILE), by="{{ config }}")
    j.append("run_finished", outcome="failed", exit_code=4, detail="{% for x in y %}")
    entries = read_journal(path)
    # and one that did not pass the journal's redaction (an older odin, a hand edit)
    entries.append(Entry(seq=99, time=clock.now(), wall=clock.now(), kind="note", phase="t0",
                         data={"message": f"Authorization: Bearer {TOKEN} {{{{ 7*7 }}}}"}))
    return entries


def test_hostile_journal_text_is_escaped_in_html_and_never_evaluated(tmp_path: Path) -> None:
    html = render_html(_hostile(tmp_path / "j.jsonl"))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "note: {{ 7*7 }}" in html and "note: {% if %}" in html and "note: {# c #}" in html
    assert "{{ config }}" in html and "{% for x in y %}" in html
    assert "note: 49" not in html and ">49<" not in html
    assert TOKEN[:8] not in html and "Bearer ***" in html
    assert "&amp;lt;" not in html  # escaped once, not twice


def test_hostile_journal_text_is_kept_verbatim_in_markdown_but_redacted(tmp_path: Path) -> None:
    entries = _hostile(tmp_path / "j.jsonl")
    markdown = render_markdown(entries)
    assert "# Migration report: {{ 7*7 }}<script>alert(1)</script>" in markdown  # Markdown escapes nothing
    for text in HOSTILE:
        assert f"note: {text}" in markdown
    assert "note: 49" not in markdown and "{% for x in y %}" in markdown
    assert TOKEN[:8] not in markdown and "Bearer ***" in markdown
    drill = render_drill_markdown(entries, None, [], outcome="failed", outcome_text="{{ 7*7 }}", detail="{% if %}")
    assert "{{ 7*7 }}" in drill and "{% if %}" in drill and "note: {# c #}" in drill
    assert TOKEN[:8] not in drill


# ---------------------------------------------------------------- one duration formatter

@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.25, "0.25s"), (3.2, "3.2s"), (45, "45s"), (59.6, "1m"), (90, "1m 30s"), (252, "4m 12s"),
    (3600, "1h"), (3900, "1h 5m"), (5400, "1h 30m"), (14400, "4h"), (86399, "1d"), (2 * 86400, "2d"),
    (7 * 86400 - 3600, "6d 23h"), (None, "–"), (float("nan"), "–"),
])
def test_one_duration_formatter(seconds, text) -> None:
    assert human_duration(seconds) == text


def test_every_report_and_message_uses_the_one_formatter() -> None:
    from odin_drills.reports import charts, formatting
    from odin_drills.steps.comms import templates
    from odin_drills.steps.dr import scorecard

    assert scorecard.human is human_duration
    assert templates._human(3900) == human_duration(3900) and templates._human(-5) == "0s"
    assert charts.human_duration is human_duration and formatting.seconds(3900) == "1h 5m"
    sources = "\n".join(p.read_text() for p in REPORTS.glob("*.py"))
    assert "divmod(" not in sources  # no second formatter hiding in the reports


def test_reports_keep_markup_in_templates_and_modules_small() -> None:
    for module in REPORTS.glob("*.py"):
        assert len(module.read_text().splitlines()) <= 500, module.name
    html_py = (REPORTS / "html.py").read_text()
    assert "<td" not in html_py and "<section" not in html_py and "esc(" not in html_py
    templates = {p.name for p in (REPORTS / "templates").iterdir()}
    assert {"report.html.j2", "migration.md.j2", "drill.md.j2"} <= templates


# ---------------------------------------------------------------- the sequential judge's evidence

def test_reports_show_the_sequential_judges_e_values_not_an_empty_p_value(tmp_path: Path) -> None:
    """Gates decided by the sequential judge carry e-values, not p-values: both reports print the
    e-value against 1/alpha and the rung that fired (they printed ``p=–`` before)."""
    from odin_drills.reports.formatting import e_value
    from odin_drills.steps.sequential import AlphaBudget, SequentialWatch
    from odin_drills.steps.snapshot import Snapshot

    def snap(requests: int, errors: int) -> Snapshot:
        return Snapshot(requests=requests, errors=errors, latency_ms={"p50": 50.0, "p95": 100.0, "p99": 130.0})

    policy = Policy()
    budget = AlphaBudget.for_watches(policy, {"t0": 2})
    judge = SequentialWatch(snap(36000, 360), policy, alpha=budget.watch("t0"), baseline_alpha=budget.baseline,
                            horizon=2, interval_seconds=300)
    calm, breach = judge.add(snap(3000, 30)), judge.add(snap(3000, 150))  # 1 %, then 5 %: a 5x breach
    assert (calm.decision, breach.decision) == ("inconclusive", "rollback")  # one calm window: too little to pass
    clock = ManualClock(START)
    j = Journal(tmp_path / "j.jsonl", clock)
    j.append("run_started", plan="orders", migration="m1", phases=["t0"], time_scale=1.0, environment="prod")
    j.append("phase_started", phase="t0")
    for window, decision in ((1, calm), (2, breach)):
        started = clock.now()
        clock.advance(300)
        j.append("gate", phase="t0", step="switch", window=window, decision=decision.model_dump(mode="json"),
                 snapshot={"requests": 3000, "started_at": started.isoformat(), "ended_at": clock.now().isoformat()})
    j.append("phase_finished", phase="t0", outcome="ok")
    entries = read_journal(tmp_path / "j.jsonl")
    fired = breach.evidence["error_rate"]
    threshold = e_value(fired.e_threshold)
    want = f"e={e_value(fired.rungs['rollback'].e_value)} ≥ {threshold}, rollback"
    assert fired.rungs["rollback"].fired and fired.rungs["rollback"].e_value >= fired.e_threshold
    calm_e = max(r.e_value for r in calm.evidence["error_rate"].rungs.values())
    for text in (render_markdown(entries), render_html(entries)):
        assert want in text
        assert f"e={e_value(calm_e)} &lt; {threshold}" in text or f"e={e_value(calm_e)} < {threshold}" in text
        assert "p=–" not in text
