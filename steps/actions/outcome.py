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

    @property
    def left_changed(self) -> bool:
        """A failed step that changed the world and could not put it back: its ``undo`` stands."""
        return self.status == "failed" and bool(self.output.get(LEFT_CHANGED)) and self.undo is not None


LEFT_CHANGED = "left_changed"
"""``output`` flag of a failed step whose change is still in the world (its own restore failed, or
it has none): the journal keeps its undo as for a step that succeeded, so a rollback, a drill's
clean-up and ``odin rollback`` put it back. Without it a failure after the act left a change that
nothing would undo."""


def failed_but_changed(detail: str, output: dict[str, Any], undo: dict[str, Any] | None) -> StepOutcome:
    """The failed outcome of a step whose change stays in the world (``LEFT_CHANGED``). A
    continuation token is dropped: the undo, not a follow-up of the operation, settles it."""
    kept = {k: v for k, v in output.items() if k != "continuation_token"}
    return StepOutcome(status="failed", detail=detail, output={**kept, LEFT_CHANGED: undo is not None}, undo=undo)
