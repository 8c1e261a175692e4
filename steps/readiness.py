"""The operational readiness review: each handbook checklist item met (odin checked it and shows
the evidence), attested (a named person vouched for it, with evidence) or unmet.

What odin checks itself, and only where the plan gives it something to check against:

* ``reliability.health-checks``: the plan's smoke journeys answer as asserted;
* ``change.rollback-plan``: every world-changing step declares an undo and that undo's target is
  reachable (``steps.reachability``, the same check T-1w runs);
* ``observability.metrics`` / ``observability.alerts``: ``metrics.kind: prometheus`` answers ``up``,
  and its alerting rules (``/api/v1/rules``, filtered by ``alerts.filter`` when set) exist;
* ``observability.alert-routing``: ``alerts:`` (Alertmanager) routes to a receiver that notifies
  someone (``/api/v2/status``: the loaded configuration);
* ``reliability.slos`` / ``reliability.error-budgets``: ``slo:`` is defined and its budget is
  readable / allows the change (``steps.slo``);
* ``dr.failover`` / ``dr.rto-rpo``: a drill of ``readiness.dr_drills`` passed (met RTO and RPO)
  within ``dr_drill_max_age``, from the drill history (``steps.dr.history``);
* ``dr.restore`` / ``dr.backup``: a restore drill of ``readiness.restore_drills`` passed within
  ``restore_max_age`` (its ``scorecard.json``).
* ``change.rollback-tested``: a migration of ``readiness.rollback_rehearsals`` rolled back and
  ended healthy within ``rehearsal_max_age`` (its journal's ``rollback_finished``).

Every other item, and those above when the plan names no source, needs an attestation
(``steps.attestations``). An attestation also covers an item whose automatic check failed — a
person accepting it, on the record — and the failed check stays in the evidence beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, Field

from odin_drills.errors import StateMissing
from odin_drills.home import drills_dir
from odin_drills.plan.durations import human_duration
from odin_drills.plan.readiness import ITEMS
from odin_drills.steps.attestations import Attestation, latest_attestations
from odin_drills.steps.redact import redact_text

Status = Literal["met", "unmet", "attested"]
Check = tuple[bool, str]
"""(met, evidence) of an automatic check."""


class ItemResult(BaseModel):
    id: str
    area: str
    text: str
    status: Status
    how: Literal["auto", "attest"] = Field(description="auto: odin can check it; attest: only a person can")
    evidence: str
    by: str | None = None
    at: datetime | None = None
    blocking: bool = False


class ReadinessResult(BaseModel):
    items: list[ItemResult]

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for i in self.items if i.status == status) for status in ("met", "attested", "unmet")}

    def blocking_unmet(self) -> list[ItemResult]:
        return [i for i in self.items if i.blocking and i.status == "unmet"]


class ReadinessBlocked(StateMissing):
    """T-0 (or ``odin readiness``) with blocking items unmet: one line per item, exit 2."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0])
        self.problems = problems

    def lines(self) -> list[str]:
        return list(self.problems)


def blocking_lines(result: ReadinessResult, plan_file: str) -> list[str]:
    """One line per blocking item left unmet: which item, why, and how to attest it."""
    return [f"{plan_file}: readiness: {i.id} ({i.text}) is unmet and blocking T-0: {i.evidence}; attest it with "
            f"`odin attest {plan_file} {i.id} --by NAME --evidence URL`" for i in result.blocking_unmet()]


class Inputs:
    """What the review reads; anything already measured (T-1w's smoke run and undo check, its
    metric source) is passed in rather than asked again."""

    def __init__(self, plan: Any, client: httpx.Client, *, smoke: Any = None,
                 undo_checked: dict[tuple[str, str], str | None] | None = None, source: Any = None,
                 now: datetime | None = None) -> None:
        self.plan, self.client, self.smoke, self.source = plan, client, smoke, source
        self.undo_checked = undo_checked or {}
        self.now = now or datetime.now(timezone.utc)


# ---------------------------------------------------------------- automatic checks

def _health(inp: Inputs) -> Check:
    if not inp.plan.smoke:
        return False, "the plan has no smoke journeys: no health check is exercised"
    report = inp.smoke
    if report is None:
        from odin_drills.steps.probes import run_journeys

        report = run_journeys(inp.plan.smoke, client=inp.client)
    failed = [r.name for r in report.results if not r.passed]
    total = len(report.results)
    if failed:
        return False, f"{len(failed)} of {total} smoke journeys fail: {', '.join(failed)}"
    return True, f"{total} smoke journey(s) answered as asserted: {', '.join(r.name for r in report.results)}"


def _rollback(inp: Inputs) -> Check:
    from odin_drills.plan.models import PHASES
    from odin_drills.steps.reachability import undo_target_problem

    plan = inp.plan
    changing = [(phase, step) for phase in PHASES for step in plan.phases.steps(phase) if step.changes_world]
    if not changing:
        return True, "the plan changes nothing (observe_only): nothing to roll back"
    problems: list[str] = []
    for phase, step in changing:
        if step.undo == "none":
            problems.append(f"phases.{phase}.{step.label} declares no undo ({step.undo_reason or 'no reason'})")
            continue
        key = (phase, step.label)
        problem = inp.undo_checked[key] if key in inp.undo_checked else undo_target_problem(
            step.undo, inp.client, step=step, target=plan.target, secrets=plan.secrets)
        if problem:
            problems.append(f"phases.{phase}.{step.label}: undo target unreachable: {problem}")
    if problems:
        return False, "; ".join(problems)
    return True, f"all {len(changing)} world-changing step(s) declare an undo whose target answers"


def _get_json(inp: Inputs, url: str, timeout: float) -> Any:
    response = inp.client.get(url, timeout=timeout)
    response.raise_for_status()
    return response.json()


def _prometheus(inp: Inputs) -> Any:
    metrics = inp.plan.metrics
    return metrics if getattr(metrics, "kind", None) == "prometheus" else None


def _metrics(inp: Inputs) -> Check | None:
    prom = _prometheus(inp)
    if prom is None:
        return None
    base = str(prom.url).rstrip("/")
    try:
        found = _get_json(inp, f"{base}/api/v1/query?query=up", prom.timeout)
        series = found.get("data", {}).get("result", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return False, f"Prometheus {base} did not answer `up`: {exc.__class__.__name__}"
    if not series:
        return False, f"Prometheus {base} scrapes nothing (`up` has no series)"
    up = sum(1 for s in series if s.get("value", [0, "0"])[1] == "1")
    return True, f"Prometheus {base} scrapes {len(series)} target(s), {up} up ({base}/targets)"


def _alert_rules(inp: Inputs) -> Check | None:
    prom = _prometheus(inp)
    if prom is None:
        return None
    from odin_drills.steps.alerts.alertmanager import matches

    base = str(prom.url).rstrip("/")
    alerts = inp.plan.alerts if getattr(inp.plan.alerts, "kind", None) == "alertmanager" else None
    matchers = list(alerts.filter) if alerts is not None else []
    label = alerts.severity_label if alerts is not None else "severity"
    try:
        found = _get_json(inp, f"{base}/api/v1/rules?type=alert", prom.timeout)
        groups = found.get("data", {}).get("groups", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return False, f"Prometheus {base} did not list its rules: {exc.__class__.__name__}"
    rules = [r for g in groups for r in g.get("rules", []) if r.get("type") == "alerting"
             and matches(matchers, {k: str(v) for k, v in (r.get("labels") or {}).items()})]
    scope = f" matching {', '.join(matchers)}" if matchers else ""
    if not rules:
        return False, f"no alerting rules{scope} at Prometheus {base} ({base}/rules)"
    by_severity: dict[str, list[str]] = {}
    for rule in rules:
        by_severity.setdefault(str((rule.get("labels") or {}).get(label, "(none)")), []).append(str(rule.get("name")))
    shown = "; ".join(f"{sev}: {', '.join(sorted(names))}" for sev, names in sorted(by_severity.items()))
    return True, f"{len(rules)} alerting rule(s){scope} at {base}/rules — {shown}"


def _routing(inp: Inputs) -> Check | None:
    alerts = inp.plan.alerts
    if alerts is None or alerts.kind != "alertmanager":  # Azure Monitor's action groups are not read (yet)
        return None
    base = str(alerts.url).rstrip("/")
    try:
        status = _get_json(inp, f"{base}/api/v2/status", alerts.timeout)
        config = yaml.safe_load(status["config"]["original"]) or {}
    except (httpx.HTTPError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        return False, f"Alertmanager {base} did not show its configuration: {exc.__class__.__name__}"
    receivers = {r.get("name"): r for r in config.get("receivers") or [] if isinstance(r, dict)}

    def routed(route: dict[str, Any]) -> list[str]:
        names = [route["receiver"]] if route.get("receiver") else []
        for child in route.get("routes") or []:
            names += routed(child) if isinstance(child, dict) else []
        return names

    names = routed(config.get("route") or {})
    notifying = sorted({n for n in names if any(k.endswith("_configs") and v for k, v in (receivers.get(n) or {}).items())})
    if not notifying:
        return False, (f"Alertmanager {base} routes to {', '.join(sorted(set(names))) or 'no receiver'}, which "
                       "notifies nobody (no *_configs)")
    return True, f"Alertmanager {base} routes alerts to {', '.join(notifying)} ({base}/#/status)"


def _budget(inp: Inputs) -> tuple[Any, str | None] | None:
    slo = inp.plan.slo
    if slo is None:
        return None
    from odin_drills.steps.slo import read_budget

    if inp.source is None:
        from odin_drills.steps.clock import ScaledClock
        from odin_drills.steps.probes.open import open_metric_source

        source = open_metric_source(inp.plan, ScaledClock(1.0))
        try:
            return read_budget(slo, source)
        finally:
            source.close()
    return read_budget(slo, inp.source)


def _slos(inp: Inputs, budget: tuple[Any, str | None] | None) -> Check | None:
    if budget is None:
        return None
    read, unavailable = budget
    slo = inp.plan.slo
    if unavailable or read.tier == "unknown":
        return False, f"slo: {slo.availability:g} % defined, not measured: {unavailable or read.sentence()}"
    return True, f"slo: {slo.availability:g} % over {human_duration(slo.window)}, measured: {read.sentence()}"


def _error_budget(inp: Inputs, budget: tuple[Any, str | None] | None) -> Check | None:
    if budget is None:
        return None
    from odin_drills.steps.slo import budget_gate

    allowed, said = budget_gate(budget[0], inp.plan.slo, budget[1])
    return allowed, said


def _fresh(at: datetime, now: datetime, max_age: float) -> bool:
    moment = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return now - moment <= timedelta(seconds=max_age)


def _drills(inp: Inputs, *, need: tuple[str, ...]) -> Check | None:
    spec = inp.plan.readiness
    if not spec.dr_drills:
        return None
    from odin_drills.steps.dr.history import DrillHistory

    history = DrillHistory(drills_dir())
    cards = [c for name in spec.dr_drills for c in history.scorecards(name)]
    fresh = [c for c in cards if _fresh(c.scored_at, inp.now, spec.dr_drill_max_age)]
    good = [c for c in fresh if all(c.criteria[n].passed for n in need if n in c.criteria)
            and (need or c.passed)]
    age = human_duration(spec.dr_drill_max_age)
    if not good:
        return False, (f"no drill of {', '.join(spec.dr_drills)} {'met ' + ' and '.join(need) if need else 'passed'} "
                       f"in the last {age} ({len(cards)} in the history, {len(fresh)} within {age})")
    card = max(good, key=lambda c: c.scored_at)
    return True, (f"drill {card.plan}/{card.drill_id} at {card.scored_at:%Y-%m-%d %H:%M} UTC: RTO "
                  f"{_span(card.rto_seconds)} (target {_span(card.rto_target_seconds)}), RPO {_span(card.rpo_seconds)} "
                  f"(target {_span(card.rpo_target_seconds)}); {drills_dir(card.plan) / card.drill_id / 'report.md'}")


def _restores(inp: Inputs) -> Check | None:
    spec = inp.plan.readiness
    if not spec.restore_drills:
        return None
    from odin_drills.steps.dr.restore import RestoreScorecard

    cards = []
    for name in spec.restore_drills:
        for file in sorted(drills_dir(name).glob("*/scorecard.json")):
            try:
                cards.append((file, RestoreScorecard.model_validate_json(file.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue  # a region-failover scorecard, or a torn file: not a restore
    age = human_duration(spec.restore_max_age)
    good = [(f, c) for f, c in cards if c.passed and _fresh(c.scored_at, inp.now, spec.restore_max_age)]
    if not good:
        return False, (f"no restore drill of {', '.join(spec.restore_drills)} passed in the last {age} "
                       f"({len(cards)} restore scorecard(s) found)")
    file, card = max(good, key=lambda fc: fc[1].scored_at)
    return True, (f"restore drill {card.plan}/{card.drill_id} at {card.scored_at:%Y-%m-%d %H:%M} UTC: restore RTO "
                  f"{_span(card.rto_seconds)} (target {_span(card.rto_target_seconds)}), {card.lost_writes} lost, "
                  f"{card.corrupted_writes} corrupted of {card.expected_writes}; {file.parent / 'report.md'}")


def _rehearsed(inp: Inputs) -> Check | None:
    """A migration of ``rollback_rehearsals`` that rolled back and ended healthy, recently."""
    spec = inp.plan.readiness
    if not spec.rollback_rehearsals:
        return None
    from odin_drills.home import migrations_dir
    from odin_drills.steps.journal import read_journal

    found = []
    for name in spec.rollback_rehearsals:
        for file in migrations_dir(name).glob("*/journal.jsonl"):
            found += [(name, file, e) for e in read_journal(file)
                      if e.kind == "rollback_finished" and e.data.get("healthy") is True]
    age = human_duration(spec.rehearsal_max_age)
    fresh = [f for f in found if _fresh(f[2].time, inp.now, spec.rehearsal_max_age)]
    if not fresh:
        return False, (f"no migration of {', '.join(spec.rollback_rehearsals)} rolled back healthy in the last {age} "
                       f"({len(found)} healthy rollback(s) in all)")
    name, file, entry = max(fresh, key=lambda f: f[2].time)
    return True, (f"migration {name}/{file.parent.name} rolled back healthy at {entry.time:%Y-%m-%d %H:%M} UTC "
                  f"(plan time): {entry.data.get('detail')}; {file.parent / 'report.md'}")


def _span(seconds: float | None) -> str:
    return "–" if seconds is None else human_duration(seconds)


# ---------------------------------------------------------------- the review

def review(inp: Inputs, attestations: dict[str, Attestation] | None = None) -> ReadinessResult:
    """Every checklist item, in the handbook's order."""
    plan = inp.plan
    spec = plan.readiness
    if attestations is None:
        attestations = latest_attestations(plan.name)
    budget: list[Any] = []

    def lazy_budget() -> Any:
        if not budget:
            budget.append(_budget(inp))
        return budget[0]

    checks: dict[str, Callable[[], Check | None]] = {
        "observability.metrics": lambda: _metrics(inp),
        "observability.alerts": lambda: _alert_rules(inp),
        "observability.alert-routing": lambda: _routing(inp),
        "reliability.slos": lambda: _slos(inp, lazy_budget()),
        "reliability.error-budgets": lambda: _error_budget(inp, lazy_budget()),
        "reliability.health-checks": lambda: _health(inp),
        "dr.backup": lambda: _restores(inp),
        "dr.restore": lambda: _restores(inp),
        "dr.failover": lambda: _drills(inp, need=()),
        "dr.rto-rpo": lambda: _drills(inp, need=("failover_within_rto", "data_loss_within_rpo")),
        "change.rollback-plan": lambda: _rollback(inp),
        "change.rollback-tested": lambda: _rehearsed(inp),
    }
    memo: dict[str, Check | None] = {}
    results: list[ItemResult] = []
    for item in ITEMS:
        check = checks.get(item.id)
        found: Check | None = None
        if check is not None:
            key = "restore" if item.id in ("dr.backup", "dr.restore") else item.id  # one read for both
            if key not in memo:
                try:
                    memo[key] = check()
                except Exception as exc:  # noqa: BLE001 - a check that breaks is an unmet item, said so
                    memo[key] = (False, f"the check failed: {exc.__class__.__name__}: {exc}")
            found = memo[key]
        how: Literal["auto", "attest"] = "attest" if found is None else "auto"
        attested = attestations.get(item.id)
        if attested is not None and not _fresh(attested.at, inp.now, spec.attestation_max_age):
            attested = None
        blocking = item.id in spec.blocking
        if found is not None and found[0]:
            results.append(ItemResult(id=item.id, area=item.area, text=item.text, status="met", how=how,
                                      evidence=redact_text(found[1]), blocking=blocking))
        elif attested is not None:
            note = f" (automatic check: {found[1]})" if found is not None else ""
            results.append(ItemResult(id=item.id, area=item.area, text=item.text, status="attested", how=how,
                                      evidence=attested.evidence + redact_text(note), by=attested.by, at=attested.at,
                                      blocking=blocking))
        else:
            why = found[1] if found is not None else "odin cannot check this: needs a person's attestation"
            results.append(ItemResult(id=item.id, area=item.area, text=item.text, status="unmet", how=how,
                                      evidence=redact_text(why), blocking=blocking))
    return ReadinessResult(items=results)
