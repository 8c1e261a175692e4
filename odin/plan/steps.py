"""Step kinds a plan may use. World-changing steps must declare their undo.

A step that changes the world (an HTTP call other than GET/HEAD, a command, an Azure action) carries
``undo:`` — another step that puts things back — or ``undo: none`` with ``undo_reason:``. The rule is
enforced at load time so a plan that could not be rolled back never starts. Azure steps
(``odin.plan.azure_steps``) compute their undo from the state they read, so for them ``undo: auto``
or no ``undo:`` at all is the declaration.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from odin.plan.journeys import HttpMethod
from steps.durations import Duration

READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(default="", description="shown in the journal and report; defaults to the kind")
    # Set on world-changing steps only; validated by the Plan.
    undo: "UndoStep | Literal['none'] | None" = None
    undo_reason: str | None = None

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
        return self

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]


class HttpStep(_Step):
    kind: Literal["http"]
    method: HttpMethod = "POST"
    url: HttpUrl
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    expect_status: int | list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    timeout: Duration = 10.0

    @property
    def changes_world(self) -> bool:
        return self.method not in READ_ONLY_METHODS


class CommandStep(_Step):
    kind: Literal["command"]
    argv: list[str] = Field(min_length=1, description="program and arguments; no shell")
    shell: bool = Field(default=False, description="run argv[0] through /bin/sh -c (opt-in)")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 300.0
    expect_exit: int = 0

    @property
    def changes_world(self) -> bool:
        return True

    @model_validator(mode="after")
    def _shell_single(self) -> "CommandStep":
        if self.shell and len(self.argv) != 1:
            raise ValueError("with shell: true, argv must be one string (the shell command line)")
        return self


class WaitStep(_Step):
    kind: Literal["wait"]
    duration: Duration


class SmokeStep(_Step):
    kind: Literal["smoke"]
    journeys: list[str] | None = Field(default=None, description="names; default all")


class GateStep(_Step):
    kind: Literal["gate"]
    window: Duration | None = Field(default=None, description="default: policy.windows.step")


class ApprovalStep(_Step):
    kind: Literal["approval"]
    prompt: str = "Continue?"
    timeout: Duration = 3600.0
    on_timeout: Literal["reject", "approve"] = "reject"


class NotifyStep(_Step):
    kind: Literal["notify"]
    url: HttpUrl
    message: str
    payload: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration = 10.0


class HttpUndo(HttpStep):
    is_undo: ClassVar[bool] = True


class CommandUndo(CommandStep):
    is_undo: ClassVar[bool] = True


class WaitUndo(WaitStep):
    is_undo: ClassVar[bool] = True


# The Azure kinds extend _Step, so they are imported once it exists (see odin.plan.azure_steps).
from odin.plan.azure_steps import (  # noqa: E402
    AZURE_KINDS,
    FrontDoorOriginsStep,
    FrontDoorOriginsUndo,
    SqlFailoverStep,
    SqlFailoverUndo,
    StorageFailoverStep,
    StorageFailoverUndo,
)

UndoStep = Annotated[
    Union[HttpUndo, CommandUndo, WaitUndo, SqlFailoverUndo, StorageFailoverUndo, FrontDoorOriginsUndo],
    Field(discriminator="kind"),
]

Step = Annotated[
    Union[HttpStep, CommandStep, WaitStep, SmokeStep, GateStep, ApprovalStep, NotifyStep,
          SqlFailoverStep, StorageFailoverStep, FrontDoorOriginsStep],
    Field(discriminator="kind"),
]

STEP_KINDS = ("http", "command", "wait", "smoke", "gate", "approval", "notify", *AZURE_KINDS)

for _model in (HttpStep, CommandStep, WaitStep, SmokeStep, GateStep, ApprovalStep, NotifyStep,
               HttpUndo, CommandUndo, WaitUndo, SqlFailoverStep, StorageFailoverStep, FrontDoorOriginsStep,
               SqlFailoverUndo, StorageFailoverUndo, FrontDoorOriginsUndo):
    _model.model_rebuild(_types_namespace={"UndoStep": UndoStep})
