"""The base every plan step kind extends: a name, and the undo rule checked at load time.

Its own module so the generic kinds (``plan.steps``) and the Azure kinds (``plan.azure_steps``)
both build on it without importing each other. ``UndoStep`` is resolved when ``plan.steps``
rebuilds the models with the full union.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from odin_drills.plan.durations import Duration

READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(default="", description="shown in the journal and report; defaults to the kind")
    # Set on world-changing steps only; validated by the Plan.
    undo: "UndoStep | Literal['none'] | None" = None
    undo_reason: str | None = None
    budget: Duration | None = Field(
        default=None, gt=0,
        description="world-changing steps: the step's RTO, the most its act and verification may take (plan time, "
        "from its first start, resumes included); past it the step missed its RTO and the migration rolls back "
        "now (rto_exceeded), before its gate is watched")

    is_undo: ClassVar[bool] = False
    auto_undo: ClassVar[bool] = False  # the step computes its own undo when it runs

    @property
    def changes_world(self) -> bool:
        return False

    @model_validator(mode="before")
    @classmethod
    def _auto_undo(cls, data: Any) -> Any:
        """``undo: auto`` (the step computes its undo when it runs) is the same as no ``undo:``."""
        if isinstance(data, dict) and data.get("undo") == "auto":
            if not cls.auto_undo:
                raise ValueError(f"'undo: auto' is only for azure.* steps; a {data.get('kind')} step names its undo")
            data = {k: v for k, v in data.items() if k != "undo"}
        return data

    @model_validator(mode="after")
    def _undo_declared(self) -> "_Step":
        """A world-changing step says how to put things back; an undo has no undo of its own."""
        if self.is_undo:
            if self.undo is not None:
                raise ValueError("an undo step cannot have its own undo")
            if self.budget is not None:
                raise ValueError("an undo step takes no 'budget:' (the step it undoes carries it)")
            return self
        if self.changes_world:
            if self.undo is None and not self.auto_undo:
                raise ValueError(
                    f"world-changing {self.kind} step needs 'undo:' (a step that reverts it) "  # type: ignore[attr-defined]
                    "or 'undo: none' with 'undo_reason:'"
                )
            if self.undo == "none" and not (self.undo_reason or "").strip():
                raise ValueError("'undo: none' needs 'undo_reason:' saying why nothing can be undone")
        elif self.undo is not None:
            raise ValueError(f"a {self.kind} step changes nothing, so it takes no 'undo:'")  # type: ignore[attr-defined]
        if self.budget is not None and not self.changes_world:
            raise ValueError(f"a {self.kind} step changes nothing, so it takes no 'budget:' (a step's RTO)")  # type: ignore[attr-defined]
        return self

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]
