"""Step kinds a plan may use. World-changing steps must declare their undo.

A step that changes the world (an HTTP call other than GET/HEAD, a command, an Azure action) carries
``undo:`` — another step that puts things back — or ``undo: none`` with ``undo_reason:``. The rule is
enforced at load time so a plan that could not be rolled back never starts. Azure steps
(``odin_drills.plan.azure_steps``) compute their undo from the state they read, so for them ``undo: auto``
or no ``undo:`` at all is the declaration.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from odin_drills.plan.azure_steps import (
    AZURE_KINDS,
    AppServiceScaleStep,
    AppServiceScaleUndo,
    AppServiceSettingsStep,
    AppServiceSettingsUndo,
    BlobRestoreStep,
    BlobRestoreUndo,
    DnsRecordsStep,
    DnsRecordsUndo,
    FrontDoorOriginsStep,
    FrontDoorOriginsUndo,
    SqlDatabaseDeleteUndo,
    SqlFailoverStep,
    SqlFailoverUndo,
    SqlRestoreStep,
    SqlRestoreUndo,
    StorageFailoverStep,
    StorageFailoverUndo,
)
from odin_drills.plan.durations import Duration
from odin_drills.plan.journeys import HttpMethod
from odin_drills.plan.secrets import RefUrl
from odin_drills.plan.step_base import READ_ONLY_METHODS, _Step

class HttpStep(_Step):
    kind: Literal["http"]
    method: HttpMethod = "POST"
    url: RefUrl = Field(description="may hold ${secret:NAME} / ${env:NAME} / ${file:PATH}, resolved at the call")
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
    shell: bool = Field(default=False, description="run argv[0] through /bin/sh -c (opt-in); no ${...} inside")
    cwd: str | None = None
    env: dict[str, str] = Field(
        default_factory=dict,
        description="the command's environment besides PATH, HOME, LANG, LC_ALL, TZ, TMPDIR, USER (nothing else "
                    "of odin's is passed); values may be ${secret:NAME} / ${env:NAME} / ${file:PATH}")
    timeout: Duration = 300.0
    expect_exit: int = 0

    @property
    def changes_world(self) -> bool:
        return True

    @model_validator(mode="after")
    def _shell_single(self) -> "CommandStep":
        if self.shell and len(self.argv) != 1:
            raise ValueError("with shell: true, argv must be one string (the shell command line)")
        if self.shell and "${" in self.argv[0]:
            # odin never splices values into sh -c text: a value holding `; rm -rf` would run.
            raise ValueError("argv: ${...} in a shell: true command line is not expanded; pass the value "
                             "with env: {NAME: ...} and write $NAME in the script")
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
    url: RefUrl = Field(description="the webhook; its path is usually the credential: use ${secret:NAME}")
    message: str
    payload: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration = 10.0


class HttpUndo(HttpStep):
    is_undo: ClassVar[bool] = True


class CommandUndo(CommandStep):
    is_undo: ClassVar[bool] = True


class WaitUndo(WaitStep):
    is_undo: ClassVar[bool] = True



UndoStep = Annotated[
    Union[HttpUndo, CommandUndo, WaitUndo, SqlFailoverUndo, StorageFailoverUndo, FrontDoorOriginsUndo,
          SqlRestoreUndo, SqlDatabaseDeleteUndo, BlobRestoreUndo, DnsRecordsUndo, AppServiceScaleUndo,
          AppServiceSettingsUndo],
    Field(discriminator="kind"),
]

Step = Annotated[
    Union[HttpStep, CommandStep, WaitStep, SmokeStep, GateStep, ApprovalStep, NotifyStep,
          SqlFailoverStep, StorageFailoverStep, FrontDoorOriginsStep, SqlRestoreStep, BlobRestoreStep,
          DnsRecordsStep, AppServiceScaleStep, AppServiceSettingsStep],
    Field(discriminator="kind"),
]

STEP_KINDS = ("http", "command", "wait", "smoke", "gate", "approval", "notify", *AZURE_KINDS)

for _model in (HttpStep, CommandStep, WaitStep, SmokeStep, GateStep, ApprovalStep, NotifyStep,
               HttpUndo, CommandUndo, WaitUndo, SqlFailoverStep, StorageFailoverStep, FrontDoorOriginsStep,
               SqlFailoverUndo, StorageFailoverUndo, FrontDoorOriginsUndo, SqlRestoreStep, SqlRestoreUndo,
               SqlDatabaseDeleteUndo, BlobRestoreStep, BlobRestoreUndo, DnsRecordsStep, DnsRecordsUndo,
               AppServiceScaleStep, AppServiceScaleUndo, AppServiceSettingsStep, AppServiceSettingsUndo):
    _model.model_rebuild(_types_namespace={"UndoStep": UndoStep})
