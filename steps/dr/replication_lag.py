"""How far the geo-secondaries trail after the failover, as Azure reports it, judged against
``validation.max_replication_lag`` (criterion ``replication_lag_within_limit``).

What Azure reports, through the same SDK clients as the failover:

- a storage account: ``geoReplicationStats.lastSyncTime`` (``storage_accounts.get_properties(...,
  expand="geoReplicationStats")``): everything written before it is on the secondary, so the lag is
  the reading's time minus it. That is the number judged. The reading is validation's own
  (``azure_reads.read_replication``, journaled as ``replication``), stamped with when its answer
  came: a second GET here would judge a lag no journal entry shows, and cost one more ARM read per
  account;
- a SQL failover group's databases: ``replication_links.list_by_database`` on the new primary gives
  each geo link's ``replicationState`` and ``percentComplete``, and no lag figure (azure-mgmt-sql
  4.0.0, api-version 2025-01-01: the lag is ``sys.dm_geo_replication_link_status.replication_lag_sec``,
  a T-SQL view, not ARM's). The evidence names each link's state; a link that is not ``CATCH_UP``
  (seeding, suspended) is not "minimal lag" and fails the criterion.

A read that fails (API unreachable, HTTP error) leaves the lag unknown: the criterion is then not
met and says it could not be measured. So does a drill with nothing whose lag Azure reports.
Plan time: the sandbox's lag is wall seconds under a scaled clock, so a wall lag counts ``scale`` times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odin_drills.plan.durations import human_duration
from odin_drills.steps.dr.azure_reads import ReplicationRead, StorageRead, read_replication
from odin_drills.steps.dr.scorecard import Criterion

if TYPE_CHECKING:
    from odin_drills.steps.dr.run import DrillRun

NAME = "replication_lag_within_limit"


def read_lags(steps: list[tuple[str, Any]], reading: ReplicationRead, target: Any,
              scale: float = 1.0) -> dict[str, dict[str, Any]]:
    """Per resource label: ``lag_seconds`` (plan seconds) or ``links`` (SQL states) or ``error``.
    A storage account's lag is ``reading``'s (no second GET); only the SQL links are read here."""
    sql = [(label, step) for label, step in steps if step.kind == "azure.sql.failover"]
    links = _read_links(sql, target) if sql else {}
    found: dict[str, dict[str, Any]] = {}
    for label, step in steps:
        if step.kind == "azure.storage.failover":
            found[label] = storage_lag(reading.storage.get(label), scale)
        elif label in links:
            found[label] = links[label]
    return found


def storage_lag(read: StorageRead | None, scale: float = 1.0) -> dict[str, Any]:
    """The lag one stamped answer shows: its ``read_at`` minus its ``lastSyncTime`` (both wall
    clock, Azure's), counted ``scale`` times under a rehearsal's plan clock."""
    if read is None:
        return {"error": "not read: the validation's replication read did not include it"}
    if read.error is not None:
        return {"error": read.error}
    if read.last_sync_time is None:
        return {"note": f"no geo-secondary any more (sku {read.sku})"}
    wall = (read.read_at - read.last_sync_time).total_seconds()
    return {"lag_seconds": round(max(0.0, wall) * scale, 3), "last_sync_time": read.last_sync_time.isoformat()}


def _read_links(steps: list[tuple[str, Any]], target: Any) -> dict[str, dict[str, Any]]:
    """Each SQL failover's geo links as ARM lists them now; a failure is that label's ``error``."""
    from odin_drills.steps.azure import AzureSession

    try:
        session = AzureSession(target)
    except Exception as exc:  # noqa: BLE001 - an unreachable API is a finding
        return {label: {"error": _failure(exc)} for label, _ in steps}
    found: dict[str, dict[str, Any]] = {}
    with session:
        for label, step in steps:
            try:
                found[label] = {"links": _sql_links(session, step)}
            except Exception as exc:  # noqa: BLE001 - a read that fails is evidence too
                found[label] = {"error": _failure(exc)}
    return found


def _sql_links(session: Any, step: Any) -> list[dict[str, Any]]:
    from odin_drills.plan.arm_ids import parse_arm_id

    server = parse_arm_id(step.to_server)
    sql = session.sql(server.subscription_id)
    group = sql.failover_groups.get(server.resource_group, server.name, step.ref().failover_group)
    links = []
    for database_id in group.properties.databases or []:
        database = parse_arm_id(database_id).name
        for link in sql.replication_links.list_by_database(server.resource_group, server.name, database):
            links.append({"database": database, "partner_server": link.properties.partner_server,
                          "state": _plain(link.properties.replication_state),
                          "percent_complete": link.properties.percent_complete})
    return links


def judge_lags(found: dict[str, dict[str, Any]], limit: float) -> Criterion:
    """Met when every lag Azure reports is within ``limit`` and every SQL link is ``CATCH_UP``."""
    unread = [f"{label}: {r['error']}" for label, r in found.items() if "error" in r]
    lags = {label: r["lag_seconds"] for label, r in found.items() if "lag_seconds" in r}
    links = [(label, link) for label, r in found.items() for link in r.get("links", [])]
    behind = [f"{label} {link['database']} {link['state']}" for label, link in links if link["state"] != "CATCH_UP"]
    over = {label: lag for label, lag in lags.items() if lag > limit}
    parts = [f"{label} lag {human_duration(lag)}" for label, lag in lags.items()]
    parts += [f"{label} {link['database']} link {link['state']} ({link['percent_complete']}%; ARM reports no lag "
              "figure for SQL)" for label, link in links]
    parts += [f"{label}: {r['note']}" for label, r in found.items() if "note" in r]
    shown = "; ".join(parts)
    if unread:
        return Criterion(passed=False, evidence=f"replication lag could not be measured: {'; '.join(unread)}"
                         + (f" (read: {shown})" if shown else ""))
    if not lags and not links:
        return Criterion(passed=False, evidence="replication lag not measured: Azure reported no lag for any "
                         "replicated resource" + (f" ({shown})" if shown else ""))
    if over or behind:
        what = [f"{label} trails by {human_duration(lag)}" for label, lag in over.items()] + \
               [f"link not caught up: {b}" for b in behind]
        return Criterion(passed=False, evidence=f"{'; '.join(what)} > limit {human_duration(limit)} ({shown})")
    return Criterion(passed=True, evidence=f"within limit {human_duration(limit)}: {shown}")


def judge_replication_lag(run: DrillRun) -> Criterion | None:
    """Judge the lag when the drill file sets ``validation.max_replication_lag``, from validation's
    one replication read (storage) and the SQL links listed now; its worst measured lag fills
    ``run.found.replication.replication_lag_seconds``."""
    from odin_drills.steps.dr.validation import record

    if "max_replication_lag" not in run.plan.validation.model_fields_set:
        return None
    steps = [(action.label, action.step) for action, _ in run.found.outcomes
             if action.step.kind in ("azure.sql.failover", "azure.storage.failover")]
    limit = run.plan.validation.max_replication_lag
    if not steps:
        return None
    found = read_lags(steps, _validation_read(run, steps), run.target, float(getattr(run.clock, "scale", 1.0)))
    lags = [r["lag_seconds"] for r in found.values() if "lag_seconds" in r]
    if lags and run.found.replication is not None:
        run.found.replication = run.found.replication.model_copy(update={"replication_lag_seconds": max(lags)})
    return record(run, NAME, judge_lags(found, limit), limit_seconds=limit, resources=found)


def _validation_read(run: DrillRun, steps: list[tuple[str, Any]]) -> ReplicationRead:
    """The read validation already made (``run.found.replication_read``); read now only when it
    made none that covers these storage accounts (a caller outside the runbook)."""
    reading = run.found.replication_read
    storage = [label for label, step in steps if step.kind == "azure.storage.failover"]
    if reading is not None and all(label in reading.storage for label in storage):
        return reading
    return read_replication(steps, run.target)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _failure(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}"
