"""Azure actions: SQL failover group, storage account failover, Front Door origins, DNS record sets,
App Service plan scale and web app settings.

Every action observes the real state, decides, acts, verifies — and its dry run is the same code
stopped after deciding::

    run_azure_step(step, target=plan.target, clock=clock)    -> StepOutcome (undo computed)
    describe_azure_step(step, plan.target)                   -> "would fail over odin-fg from …"
    azure_reachability_problem(step, plan.target)            -> None, or what does not answer

``target`` is the plan's target (``kind: azure`` or ``kind: sandbox``) or an
:class:`~steps.azure.clients.AzureSession` already built from one (to share clients or pass
client keywords such as ``retry_backoff_factor``). One module per concern:

- ``clients``  target → SDK clients (the only place Azure plugs in)
- ``errors``   SDK exception → one line with the resource and Azure's error code
- ``operation`` the step's time bound, waiting for long-running operations
- ``ids``      ARM ids, compared case-insensitively
- ``sql_failover``, ``storage_failover``, ``frontdoor_origins``: the three failover actions
- ``sql_restore`` (point-in-time restore to a new database) and its undo ``sql_database_delete``
- ``blob_restore`` (blob ranges restored in place to a point; its undo restores them to just before)
- ``dns_records`` (an A/CNAME record set pointed at new targets, verified at the zone's name servers
  by ``dns_propagation``; its undo puts the old record set back, or deletes it)
- ``appservice_scale`` (an App Service plan's instance count; its undo sets the count read before)
- ``appservice_settings`` (named app settings and connection strings of a web app, values resolved
  from references at the call and never journaled; its undo puts back or removes those keys)

Importing this package imports no Azure SDK (plan validation uses ``ids``); the SDK is loaded
when the first client is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odin_drills.errors import OdinError

if TYPE_CHECKING:
    from odin_drills.steps.actions.outcome import StepOutcome

__all__ = ["AzureSession", "azure_follow", "azure_reachability_problem", "azure_reached", "describe_azure_step",
           "run_azure_step"]


def __getattr__(name: str) -> Any:
    if name == "AzureSession":
        from odin_drills.steps.azure.clients import AzureSession

        return AzureSession
    raise AttributeError(name)


def _module(step: Any) -> Any:
    kind = getattr(step, "kind", None)
    if kind == "azure.sql.failover":
        from odin_drills.steps.azure import sql_failover as module
    elif kind == "azure.storage.failover":
        from odin_drills.steps.azure import storage_failover as module
    elif kind == "azure.frontdoor.origins":
        from odin_drills.steps.azure import frontdoor_origins as module
    elif kind == "azure.sql.restore":
        from odin_drills.steps.azure import sql_restore as module
    elif kind == "azure.sql.database.delete":
        from odin_drills.steps.azure import sql_database_delete as module
    elif kind == "azure.storage.blob.restore":
        from odin_drills.steps.azure import blob_restore as module
    elif kind == "azure.dns.records":
        from odin_drills.steps.azure import dns_records as module
    elif kind == "azure.appservice.scale":
        from odin_drills.steps.azure import appservice_scale as module
    elif kind == "azure.appservice.settings":
        from odin_drills.steps.azure import appservice_settings as module
    else:
        raise TypeError(f"{kind or type(step).__name__} is not an Azure step")
    return module


def run_azure_step(step: Any, *, target: Any, clock: Any, progress: Any = None, intent: Any = None,
                   on_operation: Any = None, secrets: Any = None) -> "StepOutcome":
    """Run one Azure step. Azure failures come back as a failed outcome with a one-line detail;
    a target that cannot reach Azure at all is a :class:`~odin.errors.UsageError` (raised).

    ``intent`` and ``on_operation`` (``steps.azure.operation``) hear the observed state and the
    computed undo before the first change, and each operation's continuation token once ARM
    accepted it: the write-ahead journal (``steps.intent``) records both. ``secrets`` (the plan's
    ``secrets:`` or a ``SecretResolver``) resolves the references of ``azure.appservice.settings``."""
    from odin_drills.steps.azure.clients import AzureSession
    from odin_drills.steps.azure.operation import no_progress

    module = _module(step)
    session, owned = AzureSession.of(target)
    hooks = {"intent": intent, "on_operation": on_operation}
    try:
        if module.KIND in ("azure.frontdoor.origins", "azure.dns.records"):  # they wait on plan time
            return module.run(step, session, clock=clock, progress=progress or no_progress, **hooks)
        if module.KIND == "azure.appservice.settings":  # values by reference, resolved at the call
            from odin_drills.steps.secrets import resolver_for

            resolver = resolver_for(secrets, session.target)
            return module.run(step, session, resolver=resolver, progress=progress or no_progress, **hooks)
        return module.run(step, session, progress=progress or no_progress, **hooks)
    finally:
        if owned:
            session.close()


def azure_reached(step: Any, target: Any) -> tuple[bool, dict[str, Any]]:
    """Reconcile: whether the world shows what ``step`` wants (an in-flight Front Door update or
    storage failover is waited for), and what was read. Raises ``OdinError`` when Azure cannot be read."""
    from odin_drills.steps.azure.clients import AzureSession

    module = _module(step)
    session, owned = AzureSession.of(target)
    try:
        return module.reached(step, session)
    finally:
        if owned:
            session.close()


def azure_follow(step: Any, target: Any, *, operation: str, continuation_token: str, resource: str = "",
                 seconds: float | None = None) -> None:
    """Reconcile: poll a journaled long-running operation by its continuation token until it ends
    (raises ``OdinError`` if it ended Failed or outlives ``seconds``)."""
    from odin_drills.steps.azure.clients import AzureSession

    module = _module(step)
    if not hasattr(module, "follow"):  # its changes are not long-running: nothing is ever journaled to follow
        return
    session, owned = AzureSession.of(target)
    try:
        if module.KIND == "azure.frontdoor.origins":
            module.follow(step, session, operation, continuation_token, seconds, resource=resource)
        else:
            module.follow(step, session, operation, continuation_token, seconds)
    finally:
        if owned:
            session.close()


def describe_azure_step(step: Any, target: Any) -> str:
    """What the step would change given the real current state (``odin plan``): one line."""
    from odin_drills.steps.azure.clients import AzureSession

    module = _module(step)
    try:
        session, owned = AzureSession.of(target)
    except OdinError as exc:
        return f"{static_description(step)}; current state unknown: {exc.message}"
    try:
        return module.describe(step, session)
    finally:
        if owned:
            session.close()


def static_description(step: Any) -> str:
    """What the step asks for, without looking at Azure."""
    if step.kind == "azure.sql.failover":
        ref = step.ref()
        return f"would fail over {ref.failover_group} to {ref.to_server} ({step.mode})"
    if step.kind == "azure.storage.failover":
        return f"would fail over {step.ref().account} to {step.to_region} ({step.mode})"
    if step.kind == "azure.sql.restore":
        ref = step.ref()
        return (f"would restore {ref.server}/{ref.source_database} to {step.restore_point.isoformat()} as new database "
                f"{ref.database}")
    if step.kind == "azure.sql.database.delete":
        ref = step.ref()
        return f"would delete database {ref.server}/{ref.database} (only if tagged {step.require_tags})"
    if step.kind == "azure.storage.blob.restore":
        from odin_drills.steps.azure.blob_restore import change_text

        return change_text(step)
    if step.kind == "azure.dns.records":
        from odin_drills.steps.azure.dns_records import change_text as dns_change_text

        return dns_change_text(step)
    if step.kind == "azure.appservice.scale":
        from odin_drills.steps.azure.appservice_scale import change_text as scale_change_text

        return scale_change_text(step)
    if step.kind == "azure.appservice.settings":
        from odin_drills.steps.azure.appservice_settings import change_text as settings_change_text

        return settings_change_text(step)
    wanted = "; ".join(f"{name} {o.model_dump(exclude_none=True)}" for name, o in step.origins.items())
    staged = f" in {step.stages} stages" if step.stages > 1 else ""
    return f"would set origins of {step.ref().origin_group}: {wanted}{staged}"


def azure_reachability_problem(step: Any, target: Any, *, auto_undo: bool = False) -> str | None:
    """Before a change: does the resource an undo will act on answer? ``step`` is the undo step,
    or (``auto_undo``) the step whose computed undo acts on the same resources."""
    from odin_drills.steps.azure.clients import AzureSession

    module = _module(step)
    try:
        session, owned = AzureSession.of(target, retry_total=2)  # a quick answer, not a patient one
    except OdinError as exc:
        return exc.message
    try:
        if module.KIND == "azure.sql.failover":
            return module.reachability_problem(step, session, auto_undo=auto_undo)
        if not hasattr(module, "reachability_problem"):  # the default: the resource answers a read
            try:
                from odin_drills.steps.azure.operation import Deadline

                module.observe(step, session, Deadline(min(step.timeout, 15.0)))
            except OdinError as exc:
                return exc.message
            return None
        return module.reachability_problem(step, session)
    finally:
        if owned:
            session.close()
