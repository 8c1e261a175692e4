"""A drill file's own steps: ordered lists per runbook phase, any step kind a migration may use.

    steps:
      failover:    after the built-in failover waves (data tier, then Front Door) succeeded, in
                   order: DNS records, app settings, a scale-up… A failed one ends the failover:
                   the drill fails back (rolls back) exactly as for a failed SQL failover
      validation:  during validation, after the built-in checks: smoke, read-only http, a wait…
                   A failed one makes the DR region "worse than before" (decision.on_worse_after_failover)
      failback:    at failback, after the data tier is failed back and every failover change is
                   undone: extra steps to bring the service home (a DNS TTL, a scale-down…)

The undo rules are the migration's (``plan.step_base``): a world-changing step names its undo, or
says ``undo: none`` with ``undo_reason:``; Azure steps compute theirs (``undo: auto``). Failover and
validation changes are undone at failback (newest first, after the data tier: ``steps.dr.order``),
by the drill's clean-up and by ``odin rollback PLAN --drill ID``. A failback step's change is where
the drill means to end, so odin journals its undo but never runs it.

An ``approval`` step holds its phase for a person up to its ``timeout`` (1 h by default): one whose
timeout (with the phase's earlier approvals) fills the phase's budget (``targets.budgets.failover``,
``.validation``) misses that budget by construction when nobody answers, so it is refused at load,
as ``decision.confirm_timeout`` is against ``targets.budgets.decision``.

Why ``gate`` is refused here: a gate judges metrics against a baseline, and a drill has no metric
source; the drill's own judgement is its scorecard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from odin_drills.plan.durations import human_duration
from odin_drills.plan.steps import Step

DRILL_STEP_PHASES = ("failover", "validation", "failback")

_BUILT_IN = re.compile(r"^(sql|storage|frontdoor) .* -> ")
"""The labels the drill gives its built-in failover actions (``steps.dr.failover``): a custom step
with one would share its journal identity (``failover/<label>``) and so its undo."""


class DrillSteps(BaseModel):
    """The drill's own steps, per runbook phase, each list run in order."""

    model_config = ConfigDict(extra="forbid")

    failover: list[Step] = Field(default_factory=list, description="after the built-in failover succeeded")
    validation: list[Step] = Field(default_factory=list, description="during validation, after the built-in checks")
    failback: list[Step] = Field(default_factory=list, description="at failback, after every failover change is undone")

    def of(self, phase: str) -> list[Step]:
        return {"failover": self.failover, "validation": self.validation, "failback": self.failback}[phase]

    def problem(self, journeys: set[str]) -> str | None:
        """The first step a drill cannot run as written, as a line naming its field (checked by
        ``DrillPlan``, so the line starts at ``steps.``); None when all can."""
        for phase in DRILL_STEP_PHASES:
            seen: set[str] = set()
            for i, step in enumerate(self.of(phase)):
                where = f"steps.{phase}[{i}]"
                if step.kind == "gate":
                    return (f"{where}: a gate judges metrics, and a drill has no metric source; use a "
                                     "smoke step (the plan's journeys) or an http check")
                if step.budget is not None:
                    return (f"{where}.budget: a step's RTO is a migration's rule; a drill is judged by its "
                            "phase budgets (targets.budgets)")
                if step.label in seen:
                    return (f"{where}: step name {step.label!r} is used twice in steps.{phase} (name: tells two "
                            "steps of one kind apart)")
                if _BUILT_IN.match(step.label):
                    return f"{where}: step name {step.label!r} looks like a built-in failover action's; choose another"
                seen.add(step.label)
                unknown = sorted(set(getattr(step, "journeys", None) or []) - journeys)
                if step.kind == "smoke" and unknown:
                    return f"{where}.journeys: unknown journeys {unknown}"
        return None

    def approval_problem(self, budgets: Mapping[str, float]) -> str | None:
        """The first approval whose timeout, added to the phase's earlier approvals', fills its phase's
        budget (``budgets``: phase -> plan seconds, the phases that have one), as one line; None when
        every unanswered approval still leaves time to act within the budget."""
        for phase, budget in budgets.items():
            waits = 0.0
            for i, step in enumerate(self.of(phase)):
                if step.kind != "approval":
                    continue
                waits += step.timeout  # type: ignore[union-attr]
                if waits < budget:
                    continue
                timeout = human_duration(step.timeout)  # type: ignore[union-attr]
                earlier = f" ({human_duration(waits)} with the approvals before it)" if waits > step.timeout else ""  # type: ignore[union-attr]
                return (f"steps.{phase}[{i}].timeout: approval {step.label!r} waits up to {timeout}{earlier}, which "
                        f"fills targets.budgets.{phase} ({human_duration(budget)}): an unanswered approval misses "
                        "the budget by construction; make the timeout shorter or the budget longer")
        return None
