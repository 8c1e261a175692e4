"""What running one step produced: the journal's ``step_finished`` payload."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "failed", "noop", "skipped"]


class StepOutcome(BaseModel):
    status: Status
    detail: str = Field(description="one line a person reads in the report")
    output: dict[str, Any] = Field(default_factory=dict)
    undo: dict[str, Any] | None = Field(
        default=None, description="the undo to run on rollback, as a step spec (journaled, so another process can run it)"
    )

    @property
    def succeeded(self) -> bool:
        return self.status in ("ok", "noop")
