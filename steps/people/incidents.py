"""T+24h "Review incident count (did migration cause issues?)": the alerts that fired between T-0
and now (``incident_count``).

Two sources, merged by the alert's fingerprint:

- **the journal**: every window odin measured since T-0 (gates and holds) lists the alerts firing
  when it ended (``Snapshot.alerts``); an alert already firing in the baseline window is not the
  migration's and is counted apart (``before``);
- **the alert source now**: Alertmanager's alerts that started at or after T-0 (its ``startsAt``,
  real time) in any state — active, silenced or inhibited (a silenced alert still fired) — so an
  alert that fired between two windows, or that someone silenced, still counts while Alertmanager
  holds it.
  For ``azure_monitor_alerts``: Azure Monitor's alerts on the service's resources that started since
  T-0, fired or resolved, in any alertState (``AzureMonitorAlertsSource.started_since``).

A plan without ``alerts:`` counts nothing and says so; an alert source that does not answer is said
once and the journal's windows are counted alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from odin_drills.steps.journal import Entry
from odin_drills.steps.people.slo_check import t0_start

LEVELS = ("sev0", "sev1", "lower")


def _alerts_of(e: Entry) -> list[dict[str, Any]]:
    alerts = (e.data.get("snapshot") or {}).get("alerts")
    return [a for a in alerts if isinstance(a, dict) and a.get("fingerprint")] if isinstance(alerts, list) else []


def journal_alerts(entries: list[Entry], since_seq: int) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """(fingerprints firing in the baseline, {fingerprint: alert} seen in windows since T-0)."""
    baseline = {a["fingerprint"] for e in entries if e.kind == "baseline" for a in _alerts_of(e)}
    seen: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.kind != "gate" or e.seq <= since_seq:
            continue
        for a in _alerts_of(e):
            found = seen.setdefault(a["fingerprint"], {
                "name": a.get("name"), "level": a.get("level", "lower"), "severity": a.get("severity"),
                "security": bool(a.get("security")), "first_seen": e.time.isoformat(), "windows": 0, "how": "journal"})
            found["windows"] += 1
    return baseline, seen


def alerts_started_since(spec: Any, since_wall: datetime, client: httpx.Client | None = None, *,
                         target: Any = None) -> tuple[list[dict[str, Any]], str | None]:
    """Alertmanager's alerts (any state) matching the plan's filter that started at or after
    ``since_wall``; ([], why) when it did not answer. Azure Monitor's (``azure_monitor_alerts``):
    the service's alerts fired or resolved, in any state, since then."""
    if getattr(spec, "kind", None) == "azure_monitor_alerts":
        return _azure_alerts_started_since(spec, since_wall, target)
    from odin_drills.steps.alerts.alertmanager import AlertmanagerSource, matches

    source = AlertmanagerSource(spec, client)
    params = [("active", "true"), ("silenced", "true"), ("inhibited", "true")] + [("filter", m) for m in spec.filter]
    try:
        response = source._client.get(source.url, params=params)
        response.raise_for_status()
        found = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return [], f"{source.name}: {type(exc).__name__}: {exc}"
    finally:
        source.close()
    if not isinstance(found, list):
        return [], f"{source.name}: expected a list of alerts, got {type(found).__name__}"
    out = []
    for item in found:
        if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
            continue
        try:
            started = datetime.fromisoformat(str(item.get("startsAt")).replace("Z", "+00:00"))
        except ValueError:
            continue
        if started < since_wall or not matches(spec.filter, {str(k): str(v) for k, v in item["labels"].items()}):
            continue
        alert = source._alert(item)  # the plan's severity map and security matchers, as the gates read them
        out.append({**alert.model_dump(), "state": str((item.get("status") or {}).get("state", "active")),
                    "started_at": started.isoformat()})
    return out, None


def _azure_alerts_started_since(spec: Any, since_wall: datetime, target: Any) -> tuple[list[dict[str, Any]], str | None]:
    from odin_drills.steps.alerts.alertmanager import AlertSourceUnavailable
    from odin_drills.steps.alerts.azure_monitor_alerts import AzureMonitorAlertsSource

    source = AzureMonitorAlertsSource(spec, target=target)
    try:
        return source.started_since(since_wall), None
    except AlertSourceUnavailable as exc:
        return [], str(exc)
    finally:
        source.close()


def count_incidents(spec: Any, entries: list[Entry], started: list[dict[str, Any]],
                    unavailable: str | None) -> dict[str, Any]:
    """The ``incident_count`` entry's fields: what fired since T-0, by level, each alert listed."""
    start = t0_start(entries)
    since = start.time if start is not None else None
    if spec is None:
        return {"since": since, "count": None, "alerts": [], "before": 0, "unavailable": None,
                "detail": "the plan declares no alert source (alerts:): no incident count; add one to review it"}
    baseline, seen = journal_alerts(entries, start.seq if start is not None else 0)
    for a in started:
        known = seen.get(a["fingerprint"])
        if known is not None:
            known["how"], known["state"] = "journal and alert source", a["state"]
        elif a["fingerprint"] not in baseline:
            seen[a["fingerprint"]] = {"name": a["name"], "level": a["level"], "severity": a["severity"],
                                      "security": a["security"], "first_seen": a["started_at"], "windows": 0,
                                      "how": "alert source", "state": a["state"]}
    before = sorted(f for f in seen if f in baseline)
    fired = [{"fingerprint": f, **a} for f, a in seen.items() if f not in baseline]
    levels = {level: sum(1 for a in fired if a["level"] == level) for level in LEVELS}
    security = sum(1 for a in fired if a["security"])
    names = ", ".join(f"{a['name']} ({a['severity'] or a['level']})" for a in fired[:10])
    detail = (f"{len(fired)} alert(s) fired since T-0" + (f": {names}" if fired else "") +
              f" ({levels['sev0']} Sev 0, {levels['sev1']} Sev 1, {levels['lower']} lower, {security} security)" +
              (f"; {len(before)} already firing at the baseline not counted" if before else "") +
              (f"; alert source not read now: {unavailable} (journal windows only)" if unavailable else ""))
    return {"since": since, "count": len(fired), **levels, "security": security, "alerts": fired,
            "before": len(before), "unavailable": unavailable, "detail": detail}


def review(spec: Any, entries: list[Entry], target: Any = None) -> dict[str, Any]:
    """Read the alert source (when the plan has one; ``target``: the plan's, for Azure Monitor) and count."""
    start = t0_start(entries)
    started: list[dict[str, Any]] = []
    unavailable = None
    if spec is not None and start is not None:
        started, unavailable = alerts_started_since(spec, start.wall, target=target)
    return count_incidents(spec, entries, started, unavailable)
