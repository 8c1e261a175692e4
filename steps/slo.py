"""The error-budget gate before T-0: how much of the SLO's budget is left, and what the handbook's
policy then allows. Pure: numbers in, a verdict with its numbers out.

Budget over the SLO window: ``allowed = (1 - availability) x requests`` failed requests;
``remaining = 1 - errors / allowed``. Tiers (the handbook's error-budget policy):

    remaining > 50 %        normal        proceed
    25 % <= remaining <= 50 %  conservative  proceed, warned in the journal and the report
    0 < remaining < 25 %    freeze        only a change marked slo.critical
    remaining <= 0          exhausted     only an slo.emergency, with its reason and who decided

No requests in the window (or a source that could not be read) decides nothing: the gate refuses,
saying why, rather than pass a migration on a budget it did not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

BudgetTier = Literal["normal", "conservative", "freeze", "exhausted", "unknown"]


@dataclass(frozen=True)
class Budget:
    requests: int
    errors: int
    availability: float  # percent
    window_seconds: float
    allowed: float  # failed requests the SLO allows over the window
    remaining: float | None  # fraction of the budget left (negative: overspent); None: no requests
    tier: BudgetTier

    def sentence(self) -> str:
        if self.remaining is None:
            return (f"error budget unknown: no requests in the {_span(self.window_seconds)} SLO window "
                    f"({self.availability:g} % availability)")
        return (f"error budget {self.remaining:.1%} remaining: {self.errors:,} failed of {self.requests:,} requests "
                f"over the {_span(self.window_seconds)} SLO window, {self.allowed:,.1f} allowed at "
                f"{self.availability:g} % availability: {self.tier} ({_RULES[self.tier]})")


_RULES = {"normal": "> 50 %", "conservative": "25-50 %", "freeze": "< 25 %", "exhausted": "<= 0 %", "unknown": "no data"}


def error_budget(requests: int, errors: int, availability: float, window_seconds: float) -> Budget:
    """The budget, decided on exact fractions of the target as written (99.9 is 999/1000, not the
    nearest double), so a tier boundary never flips on rounding."""
    allowed_exact = (1 - Fraction(repr(float(availability))) / 100) * requests
    if requests <= 0:
        return Budget(requests, errors, availability, window_seconds, 0.0, None, "unknown")
    remaining_exact = 1 - Fraction(errors) / allowed_exact
    allowed, remaining = float(allowed_exact), float(remaining_exact)
    half, quarter = Fraction(1, 2), Fraction(1, 4)
    tier: BudgetTier = ("normal" if remaining_exact > half else "conservative" if remaining_exact >= quarter else
                        "freeze" if remaining_exact > 0 else "exhausted")
    return Budget(requests, errors, availability, window_seconds, allowed, remaining, tier)


def budget_gate(budget: Budget, slo: Any, unavailable: str | None = None) -> tuple[bool, str]:
    """(may T-0 proceed, why): the handbook's policy for the budget's tier, with the plan's
    ``critical`` and ``emergency`` (``odin_drills.plan.slo.ErrorBudgetPolicy``)."""
    said = budget.sentence()
    if unavailable:
        return False, f"error budget unknown: {unavailable}"
    if budget.tier == "unknown":
        return False, said + ": refusing to start a change on a budget not seen"
    if budget.tier == "normal":
        return True, said
    if budget.tier == "conservative":
        return True, said + ": proceeding with care (review recent incidents, increase testing)"
    if budget.tier == "freeze":
        if slo.critical:
            return True, said + ": non-critical changes are frozen; this change is marked slo.critical"
        return False, said + ": non-critical changes are frozen; mark a critical fix slo.critical: true"
    if slo.emergency is not None:
        return True, (said + f": no changes except emergency fixes; EMERGENCY override by {slo.emergency.by}: "
                              f"{slo.emergency.reason}")
    return False, said + ": no changes except emergency fixes (slo.emergency: {reason, by})"


def _span(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}-day"
    if seconds >= 3600:
        return f"{seconds / 3600:g}-hour"
    return f"{seconds:g}-second"


def read_budget(slo: Any, source: Any) -> tuple[Budget, str | None]:
    """The budget over the SLO window ending now, from a metric source that can look back
    (``read_window``: Prometheus, Application Insights; an ``AlertedSource`` is looked through), and
    why it could not be read (None when it was). The window's real length is the source's for
    ``slo.window`` of plan time: under a scaled clock a 30-day SLO window is 30 days / N of real traffic."""
    import time

    reader = getattr(source, "inner", source)
    if not callable(getattr(reader, "read_window", None)):
        return error_budget(0, 0, slo.availability, slo.window), f"{getattr(reader, 'name', 'the source')} cannot look back"
    window = reader.read_window(time.time(), reader.wall_seconds(slo.window))
    budget = error_budget(window.requests, window.errors, slo.availability, slo.window)
    return budget, window.signals.details.get("unavailable")
