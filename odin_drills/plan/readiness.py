"""The operational readiness review (SRE handbook, "Operational Readiness Review") as plan data.

    readiness:
      blocking: [observability.alerts, change.rollback-plan]   # unmet at T-0: T-0 refuses
      dr_drills: [quarterly-dr-test]        # drill plans whose history proves the DR items
      dr_drill_max_age: 90d
      restore_drills: [restore-sandbox]     # restore drills whose scorecards prove the restore items
      restore_max_age: 90d
      rollback_rehearsals: [shop-move-sandbox]   # migration plans whose healthy rollbacks prove the rehearsal
      rehearsal_max_age: 90d
      attestation_max_age: 30d              # an attestation older than this no longer counts

The 32 checklist items are the handbook's, word for word (:data:`ITEMS`). odin checks an item
itself where it can show evidence; every other item is met only by a named person's attestation
(``odin attest PLAN ITEM --by NAME --evidence URL``). The section is optional: without it the
review still runs at T-1w and is reported, and nothing blocks.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from odin_drills.plan.durations import Duration

_DRILL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Item:
    """One checklist line: its id (what ``blocking`` and ``odin attest`` name), area and text."""

    id: str
    area: str
    text: str


def _area(area: str, prefix: str, *items: tuple[str, str]) -> list[Item]:
    return [Item(f"{prefix}.{slug}", area, text) for slug, text in items]


ITEMS: tuple[Item, ...] = tuple(
    _area("Observability", "observability",
          ("metrics", "Metrics collection configured (Azure Monitor enabled)"),
          ("logs", "Logs centralized (diagnostic settings to Log Analytics)"),
          ("dashboards", "Dashboards created (platform health, service health)"),
          ("alerts", "Alerts configured (critical, high, medium severity)"),
          ("alert-routing", "Alert routing set up (action groups, escalation)"),
          ("runbooks", "Runbooks created for common alerts"))
    + _area("Reliability", "reliability",
            ("slos", "SLOs defined and measured"),
            ("error-budgets", "Error budgets established"),
            ("high-availability", "High availability configured (Availability Zones, redundancy)"),
            ("auto-scaling", "Auto-scaling configured (if applicable)"),
            ("health-checks", "Health checks implemented"),
            ("circuit-breakers", "Circuit breakers configured (for dependencies)"))
    + _area("Disaster Recovery", "dr",
            ("backup", "Backup strategy defined and tested"),
            ("rto-rpo", "RTO and RPO documented and achievable"),
            ("failover", "DR failover procedure tested"),
            ("failback", "DR failback procedure documented"),
            ("restore", "Data restore tested (not just backup verified)"))
    + _area("Security", "security",
            ("monitoring", "Security monitoring enabled (Azure Defender, alerts)"),
            ("audit-logging", "Audit logging configured"),
            ("contacts", "Security contacts defined"),
            ("incident-response", "Incident response plan exists"),
            ("secrets-rotation", "Secrets rotation automated"))
    + _area("Change Management", "change",
            ("rollback-plan", "Rollback plan documented"),
            ("rollback-tested", "Rollback tested in non-production"),
            ("window-approved", "Change window approved"),
            ("stakeholders-notified", "Stakeholder communication sent"),
            ("on-call-briefed", "On-call team briefed"))
    + _area("Documentation", "docs",
            ("architecture", "Architecture diagram up-to-date"),
            ("runbooks", "Runbooks for common operations"),
            ("troubleshooting", "Troubleshooting guide"),
            ("escalation", "Escalation contacts documented"),
            ("known-issues", "Known issues and workarounds documented"))
)
"""The handbook's readiness checklist, in its order."""

ITEM_IDS = {item.id: item for item in ITEMS}


def unknown_item(name: str) -> str:
    """The one-line problem for an item id the checklist does not have, with the nearest one."""
    near = difflib.get_close_matches(name, list(ITEM_IDS), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"{name!r} is not a readiness item{hint}; `odin readiness PLAN` lists the item ids"


class ReadinessSpec(BaseModel):
    """Which items block T-0, and where the DR evidence is read."""

    model_config = ConfigDict(extra="forbid")

    blocking: list[str] = Field(
        default_factory=list,
        description="item ids (e.g. observability.alerts) that, unmet and unattested, make T-0 refuse before it "
                    "touches anything")
    dr_drills: list[str] = Field(
        default_factory=list,
        description="region-failover drill plans (their names) whose history proves dr.failover and dr.rto-rpo; "
                    "none: those items need an attestation")
    dr_drill_max_age: Duration = Field(default=90 * 86400.0, gt=0,
                                       description="a passing drill older than this does not count (handbook: 90 days)")
    restore_drills: list[str] = Field(
        default_factory=list,
        description="restore drill plans (their names) whose scorecards prove dr.restore and dr.backup; none: "
                    "those items need an attestation")
    restore_max_age: Duration = Field(default=90 * 86400.0, gt=0,
                                      description="a passing restore drill older than this does not count")
    rollback_rehearsals: list[str] = Field(
        default_factory=list,
        description="migration plans (their names; a copy of this plan against the sandbox, or this plan itself "
                    "when it is not production) whose migrations prove change.rollback-tested by a rollback that "
                    "ended healthy; none: that item needs an attestation")
    rehearsal_max_age: Duration = Field(default=90 * 86400.0, gt=0,
                                        description="a rollback rehearsal older than this does not count")
    attestation_max_age: Duration = Field(default=30 * 86400.0, gt=0,
                                          description="an attestation older than this no longer counts")

    @field_validator("blocking")
    @classmethod
    def _known_items(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in ITEM_IDS:
                raise ValueError(unknown_item(name))
        if len(set(value)) != len(value):
            raise ValueError("an item is listed twice")
        return value

    @field_validator("dr_drills", "restore_drills", "rollback_rehearsals")
    @classmethod
    def _drill_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _DRILL_NAME.match(name):
                raise ValueError(f"{name!r} is not a drill plan name (its name: field, lower-case letters, digits "
                                 "and dashes)")
        return value
