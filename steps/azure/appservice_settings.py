"""``azure.appservice.settings``: set or remove named app settings and connection strings of a web app.

Why: the runbook's "update connection strings to the secondary region" and "update application
configuration". Azure's API replaces a web app's whole set of settings (``PUT
…/config/appsettings``), so the step reads the set, changes only the named keys and writes the set
back: keys the plan does not name are never touched.

Secrets. A connection string is always a secret, and so is an app setting whose value the plan
gives by reference (``${secret:NAME}``, resolved here, at the call, by the plan's ``secrets:``
source) or whose name says secret (``API_KEY``, ``DB_PASSWORD``: ``steps.redact``'s rule). Their
values never leave this module: the journal (intent, output, undo) holds the key and ``(secret)``;
values resolved are registered for masking, so an SDK error that echoed one is masked too.

Hence the undo: what was read is put back for plain settings; a key that did not exist is removed
(``remove_app_settings`` / ``remove_connection_strings``); but a secret that existed cannot be put
back without journaling it, so a step that would replace one needs a declared ``undo:`` (the same
kind, with references) or ``undo: none`` — without one it refuses before changing anything.

Observe (both lists) ▸ decide (only changed keys count; none: no change, still verified) ▸ undo ▸
``intent`` ▸ PUT the merged set(s) ▸ read back: verified when every named key reads as wanted. A
read-back that differs puts the named keys back as they were read (a failed step leaves no change).
"""

from __future__ import annotations

from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import AppServiceSettingsStep
from odin_drills.plan.secrets import has_reference
from odin_drills.steps.actions.outcome import StepOutcome, failed_but_changed
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, failure_output, one_line
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, no_progress
from odin_drills.steps.redact import is_secret_key, redact, redact_text
from odin_drills.steps.secrets import SecretResolver, SecretUnavailable

KIND = "azure.appservice.settings"
SECRET = "(secret)"

ConnectionString = tuple[str, str]  # (value, type)


class Wanted:
    """The step's keys with their values resolved: ``None`` means "absent" (removed)."""

    def __init__(self, step: AppServiceSettingsStep, resolver: SecretResolver) -> None:
        self.app: dict[str, str | None] = {k: resolver.text(v) for k, v in step.app_settings.items()}
        self.app.update({k: None for k in step.remove_app_settings})
        self.conn: dict[str, ConnectionString | None] = {
            k: (resolver.text(c.value), c.type) for k, c in step.connection_strings.items()}
        self.conn.update({k: None for k in step.remove_connection_strings})
        self.secret_app = {k for k in self.app
                           if is_secret_key(k) or has_reference(step.app_settings.get(k, ""))}


def _where(step: AppServiceSettingsStep) -> str:
    return f"{KIND} {step.ref().app}"


def app_id(step: AppServiceSettingsStep, session: AzureSession) -> str:
    ref = step.ref()
    return (f"/subscriptions/{ref.subscription_id or session.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.Web/sites/{ref.app}")


def _sites(step: AppServiceSettingsStep, session: AzureSession) -> Any:
    return session.web(step.ref().subscription_id).web_apps


def read_all(step: AppServiceSettingsStep, session: AzureSession,
             deadline: Deadline) -> tuple[dict[str, str], dict[str, ConnectionString]]:
    """Every app setting and connection string of the app, values included (kept in memory only)."""
    ref = step.ref()
    sites = _sites(step, session)
    try:
        settings = sites.list_application_settings(ref.resource_group, ref.app, **deadline.call(_where(step)))
        strings = sites.list_connection_strings(ref.resource_group, ref.app, **deadline.call(_where(step)))
    except Exception as exc:
        raise azure_failure(KIND, ref.app, _masked(exc)) from None
    conn = {name: (pair.value, str(getattr(pair.type, "value", pair.type)))
            for name, pair in (strings.properties or {}).items()}
    return dict(settings.properties or {}), conn


def _masked(exc: BaseException) -> BaseException:
    """The SDK's error with registered secret values masked (an ARM message may echo a value)."""
    text = redact_text(str(exc))
    if text != str(exc):
        exc.args = (text,)
        if hasattr(exc, "message"):
            exc.message = text  # type: ignore[attr-defined]
    return exc


def shown(wanted: Wanted, app: dict[str, str], conn: dict[str, ConnectionString]) -> dict[str, Any]:
    """The named keys as read, fit for the journal: plain values, ``(secret)``, or None (absent)."""
    return {"app_settings": {k: (None if k not in app else SECRET if k in wanted.secret_app else app[k])
                             for k in wanted.app},
            "connection_strings": {k: (None if k not in conn else {"value": SECRET, "type": conn[k][1]})
                                   for k in wanted.conn}}


def changed_keys(wanted: Wanted, app: dict[str, str], conn: dict[str, ConnectionString]) -> tuple[list[str], list[str]]:
    app_changed = [k for k, v in wanted.app.items() if app.get(k) != v]
    conn_changed = [k for k, v in wanted.conn.items() if conn.get(k) != v]
    return app_changed, conn_changed


def change_text(step: AppServiceSettingsStep, keys: tuple[list[str], list[str]] | None = None) -> str:
    """Names only, never values."""
    app_keys, conn_keys = keys if keys is not None else (
        [*step.app_settings, *step.remove_app_settings], [*step.connection_strings, *step.remove_connection_strings])
    parts = []
    if app_keys:
        parts.append(f"app settings {', '.join(app_keys)}")
    if conn_keys:
        parts.append(f"connection strings {', '.join(conn_keys)}")
    return f"would set {' and '.join(parts)} of web app {step.ref().app}"


def undo_for(step: AppServiceSettingsStep, session: AzureSession, wanted: Wanted, keys: tuple[list[str], list[str]],
             app: dict[str, str], conn: dict[str, ConnectionString]) -> dict[str, Any]:
    """The changed keys as read: plain values put back, keys that did not exist removed. Raises
    when a secret that existed would have to be journaled to be put back."""
    app_keys, conn_keys = keys
    # An old value the journal's redaction would mask (a password in a URL, an AccountKey=, a JWT)
    # is a secret too: journaled, it would come back as '***' and the undo would write that.
    masked = {k for k in app_keys if k in app and redact(app[k], k) != app[k]}
    secrets = sorted([f"app_settings.{k}" for k in app_keys if k in app and (k in wanted.secret_app or k in masked)]
                     + [f"connection_strings.{k}" for k in conn_keys if k in conn])
    if secrets:
        failure = AzureOperationFailed(one_line(
            f"{_where(step)}: {secrets[0]} holds a secret now, and an automatic undo would have to journal it to "
            "put it back: declare undo: (an azure.appservice.settings step giving the old value by "
            "${secret:NAME}) or undo: none with undo_reason:; nothing was changed"))
        failure.code = "UndoNeedsDeclaring"  # type: ignore[attr-defined]
        raise failure
    undo: dict[str, Any] = {"kind": KIND, "name": f"undo {step.name}", "app": app_id(step, session),
                            "timeout": step.timeout}
    restore = {k: app[k] for k in app_keys if k in app}
    if restore:
        undo["app_settings"] = restore
    removed_app = [k for k in app_keys if k not in app]
    if removed_app:
        undo["remove_app_settings"] = removed_app
    removed_conn = [k for k in conn_keys if k not in conn]
    if removed_conn:
        undo["remove_connection_strings"] = removed_conn
    return undo


def _write(step: AppServiceSettingsStep, session: AzureSession, deadline: Deadline,
           app_changes: dict[str, str | None], conn_changes: dict[str, ConnectionString | None]) -> None:
    """Read the whole sets, apply the changes (None: remove), write back only the sets that change."""
    from azure.mgmt.web import models

    ref = step.ref()
    sites = _sites(step, session)
    app, conn = read_all(step, session, deadline)
    try:
        if app_changes:
            merged = {**app, **{k: v for k, v in app_changes.items() if v is not None}}
            for k in (k for k, v in app_changes.items() if v is None):
                merged.pop(k, None)
            sites.update_application_settings(ref.resource_group, ref.app, models.StringDictionary(properties=merged),
                                              **deadline.call(_where(step)))
        if conn_changes:
            pairs = {**conn, **{k: v for k, v in conn_changes.items() if v is not None}}
            for k in (k for k, v in conn_changes.items() if v is None):
                pairs.pop(k, None)
            body = models.ConnectionStringDictionary(properties={
                k: models.ConnStringValueTypePair(value=value, type=kind) for k, (value, kind) in pairs.items()})
            sites.update_connection_strings(ref.resource_group, ref.app, body, **deadline.call(_where(step)))
    except Exception as exc:
        raise azure_failure(KIND, ref.app, _masked(exc)) from None


def describe(step: AppServiceSettingsStep, session: AzureSession, resolver: SecretResolver | None = None) -> str:
    try:
        wanted = Wanted(step, resolver or SecretResolver())
        app, conn = read_all(step, session, Deadline(min(step.timeout, 30.0)))
    except SecretUnavailable as exc:
        return f"{change_text(step)}; current state unknown: {exc}"
    except OdinError as exc:
        return f"{change_text(step)}; current state unknown: {exc.message}"
    keys = changed_keys(wanted, app, conn)
    if not any(keys):
        return f"no change: the named settings of web app {step.ref().app} are already as wanted"
    return change_text(step, keys)


def run(step: AppServiceSettingsStep, session: AzureSession, *, resolver: SecretResolver | None = None,
        progress: Progress = no_progress, intent: Intent | None = None,
        on_operation: OnOperation | None = None) -> StepOutcome:
    """Resolve ▸ observe ▸ decide ▸ undo ▸ ``intent`` ▸ PUT the merged sets ▸ read back."""
    where = _where(step)
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"app": step.ref().app}
    try:
        wanted = Wanted(step, resolver or SecretResolver())
    except SecretUnavailable as exc:
        return StepOutcome(status="failed", detail=one_line(f"{where}: nothing changed: {exc}"), output=output)
    undo = None
    acted = False
    try:
        app, conn = read_all(step, session, deadline)
        before = shown(wanted, app, conn)
        output["before"] = before
        keys = changed_keys(wanted, app, conn)
        output["changed"] = {"app_settings": keys[0], "connection_strings": keys[1]}
        if any(keys):
            declared = step.is_undo or step.undo is not None
            undo = None if declared else undo_for(step, session, wanted, keys, app, conn)
            if intent is not None:
                intent(prior=before, undo=undo, change=change_text(step, keys))
            acted = True
            _write(step, session, deadline, {k: wanted.app[k] for k in keys[0]},
                   {k: wanted.conn[k] for k in keys[1]})
            progress(f"{where}: {change_text(step, keys).replace('would set', 'set')}; reading them back")
        app_after, conn_after = read_all(step, session, deadline)
        output["after"] = shown(wanted, app_after, conn_after)
        left = changed_keys(wanted, app_after, conn_after)
        if any(left):
            failure = AzureOperationFailed(one_line(
                f"{where}: after the update {', '.join([*left[0], *left[1]])} still do not read as wanted"))
            failure.code = "SettingsNotApplied"  # type: ignore[attr-defined]
            raise failure
    except OdinError as exc:
        detail = exc.message
        restored = False
        if acted:
            restored, said = _restore(step, session, keys, app, conn)
            detail += f"; {said}"
        if acted and not restored:  # the change stays: its undo must stay in the journal
            return failed_but_changed(one_line(redact_text(detail)), {**output, **failure_output(exc)}, undo)
        return StepOutcome(status="failed", detail=one_line(redact_text(detail)),
                           output={**output, **failure_output(exc)})
    if not any(keys):
        return StepOutcome(status="noop", output=output,
                           detail=f"{where}: the named settings already read as wanted")
    return StepOutcome(status="ok", output=output, undo=undo, detail=one_line(
        f"{change_text(step, keys).replace('would set', 'set')}; read back as wanted"))


def _restore(step: AppServiceSettingsStep, session: AzureSession, keys: tuple[list[str], list[str]],
             app: dict[str, str], conn: dict[str, ConnectionString]) -> tuple[bool, str]:
    """Put the changed keys back as they were read (values from memory, never the journal)."""
    try:
        _write(step, session, Deadline(step.timeout), {k: app.get(k) for k in keys[0]},
               {k: conn.get(k) for k in keys[1]})
    except OdinError as exc:
        return False, f"restoring the previous settings failed too: {exc.message}"
    return True, "restored the previous settings"


def reached(step: AppServiceSettingsStep, session: AzureSession,
            resolver: SecretResolver | None = None) -> tuple[bool, dict[str, Any]]:
    """Reconcile: do the named keys read as wanted? (References resolve again, to current values.)"""
    try:
        wanted = Wanted(step, resolver or SecretResolver())
    except SecretUnavailable as exc:
        raise AzureOperationFailed(one_line(f"{_where(step)}: {exc}")) from None
    app, conn = read_all(step, session, Deadline(min(step.timeout, 60.0)))
    return not any(changed_keys(wanted, app, conn)), {"settings": shown(wanted, app, conn)}



def reachability_problem(step: AppServiceSettingsStep, session: AzureSession) -> str | None:
    """Does the app answer (the undo writes the same app)?"""
    try:
        read_all(step, session, Deadline(min(step.timeout, 15.0)))
    except OdinError as exc:
        return exc.message
    return None
