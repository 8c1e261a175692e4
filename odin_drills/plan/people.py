"""The people side of a migration's T-0 (SRE handbook, "Migration Safety Plan": "On-call team on
standby", "Communication sent to stakeholders"), as plan data.

    people:
      on_call_confirmation:
        who: "the shop on-call (PagerDuty schedule SHOP)"   # named in the prompt and the report
        timeout: 30m          # plan time the on-call person has to confirm
        required: true        # unconfirmed at the deadline: T-0 does not start (false: it starts, noted)
      stakeholder_notice:
        channels:             # the change window starts: one message per channel, journaled
          - {name: shop-stakeholders, kind: slack, url: "https://hooks.slack.com/..."}
        required: false       # true: T-0 does not start unless at least one channel took the notice

Both are off unless declared. Both run before T-0's first step, once per migration (a T-0 run
again after an interruption does not ask or announce twice). The T+1h SLO check and log review and
the T+24h incident count need no settings: they read the plan's ``slo:`` and ``alerts:``, the
journal and the run's Prefect logs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from odin_drills.plan.channels import Channel
from odin_drills.plan.durations import Duration


class OnCallConfirmation(BaseModel):
    """An approval with a deadline: the on-call person confirms they are on standby before T-0."""

    model_config = ConfigDict(extra="forbid")

    who: str = Field(default="the on-call engineer", min_length=1,
                     description="who must confirm (a rotation or a name), shown in the prompt and the report")
    timeout: Duration = Field(default=1800.0, gt=0, description="plan time the on-call person has to confirm")
    required: bool = Field(
        default=True, description="true: no confirmation by the deadline means T-0 does not start (refused, nothing "
                                  "changed); false: T-0 starts at the deadline, the missing confirmation noted")


class StakeholderNotice(BaseModel):
    """The change window starts: a message to every channel before T-0's first step."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(min_length=1, description="where stakeholders read it (slack, teams, generic)")
    required: bool = Field(
        default=False, description="true: T-0 does not start unless at least one channel took the notice")
    note: str = Field(default="", description="an extra line for stakeholders (what they may notice, whom to ask)")

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[Channel]) -> list[Channel]:
        names = [c.name for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"channel names must be unique: {', '.join(twice)} used twice")
        return value


class PeopleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_call_confirmation: OnCallConfirmation | None = Field(
        default=None, description="before T-0: the on-call person confirms they are on standby (odin decide / the UI)")
    stakeholder_notice: StakeholderNotice | None = Field(
        default=None, description="before T-0's first step: stakeholders are told the change window starts")
