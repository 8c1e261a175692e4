"""Azure Monitor alerts of the sandbox: the handbook's example rules, evaluated on real telemetry.

Why here and not canned: an alert source is only worth testing if its alerts come from what the
service really did. The rules read the same request telemetry the Log Analytics endpoint serves
(``log_analytics.RequestTelemetry``: one row per request the regional demo apps answered) and the
same faults the apps obey, over the last ``window_seconds`` (5 minutes) of the sandbox clock, per
region, on that region's web app (``Microsoft.Web/sites``):

- ``FailedRequestRate`` (Sev1, a log search alert): more than 5 % of the window's requests failed
  (result code >= 400), with at least ``min_requests`` requests;
- ``AppUnavailable`` (Sev0, an availability alert): the region is down (its app refuses
  connections) or its last ``min_requests`` requests all failed (consecutive failures, as a health
  check counts them: a rate over the whole window would let minutes of earlier success hide an
  app that is down now).

Rules are stateful, as Azure's are: a rule whose condition holds fires one alert (monitorCondition
``Fired``, alertState ``New``) and keeps it until the condition no longer holds, when it becomes
``Resolved``; holding again fires a new alert (a new id). Rules are evaluated whenever alerts are
read (Azure evaluates on a frequency; reading is the moment that matters to a reader).

Tests fire any other alert by hand (:meth:`AlertBook.fire`, ``POST /alerts`` on the admin API) and
resolve it (:meth:`AlertBook.resolve`); ``change_state`` is ARM's ``changestate`` (New,
Acknowledged, Closed). ``reset`` forgets every alert.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .clock import Clock
from .log_analytics import RequestTelemetry
from .topology import REGIONS, Topology

SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
ALERT_STATES = ("New", "Acknowledged", "Closed")
FAILED_RATE_RULE = "FailedRequestRate"
UNAVAILABLE_RULE = "AppUnavailable"
WEB_APP_TYPE = "Microsoft.Web/sites"
_RULES = {  # rule -> (severity, rule resource type, monitor service, signal type)
    UNAVAILABLE_RULE: ("Sev0", "metricalerts", "Platform", "Metric"),
    FAILED_RATE_RULE: ("Sev1", "scheduledqueryrules", "Log Analytics", "Log"),
}


def resource_type_of(resource_id: str) -> str:
    """``Microsoft.Web/sites`` from ``.../providers/Microsoft.Web/sites/NAME`` ("" when not an ARM id)."""
    _, _, tail = resource_id.partition("/providers/")
    parts = tail.split("/")
    return "/".join([parts[0], *parts[1:-1:2]]) if len(parts) >= 3 else ""


class UnknownAlert(KeyError):
    """No alert with that id (or name)."""


class InvalidAlert(ValueError):
    """A hand-fired alert or state change Azure would refuse (the message says why)."""


@dataclass(frozen=True)
class AlertRecord:
    """One alert instance, as ``Microsoft.AlertsManagement/alerts`` describes it (its essentials)."""

    id: str
    name: str
    severity: str
    target_resource: str
    target_resource_group: str
    target_resource_type: str
    monitor_service: str
    signal_type: str
    alert_rule: str
    description: str
    started_at: float
    modified_at: float
    monitor_condition: str = "Fired"
    alert_state: str = "New"
    resolved_at: float | None = None
    modified_by: str = "System"

    @property
    def target_resource_name(self) -> str:
        return self.target_resource.rstrip("/").rsplit("/", 1)[-1]

    @property
    def rule_name(self) -> str:
        return self.alert_rule.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RuleSettings:
    """The handbook's example thresholds (tests may tighten the window under a scaled clock)."""

    window_seconds: float = 300.0
    failed_rate: float = 0.05
    min_requests: int = 20


class AlertBook:
    """Every alert the sandbox's Azure Monitor holds, and the rules that fire and resolve them."""

    def __init__(self, topology: Topology, telemetry: RequestTelemetry, region_down: Callable[[str], bool],
                 clock: Clock, settings: RuleSettings | None = None) -> None:
        self.topology = topology
        self.telemetry = telemetry
        self.region_down = region_down
        self.clock = clock
        self.settings = settings or RuleSettings()
        self._lock = threading.RLock()
        self._alerts: dict[str, AlertRecord] = {}  # by id, in firing order
        self._rule_fired: dict[tuple[str, str], str] = {}  # (rule, region) -> id of its fired alert

    # ------------------------------------------------------------------ the rules
    def evaluate(self) -> None:
        """Fire or resolve each rule's alert per region from the last window of telemetry.

        Faults and telemetry are read before this book's lock is taken: the ARM server calls in
        holding the world's lock (which the faults share), so taking them in the other order here
        could deadlock against it."""
        now = self.clock()
        rows = self.telemetry.between(now - self.settings.window_seconds, now + 1e-6)
        down = {region: self.region_down(region) for region in REGIONS}
        with self._lock:
            for region in REGIONS:
                mine = [r for r in rows if r.region == region]
                failed = sum(1 for r in mine if not r.success)
                counted = len(mine) >= self.settings.min_requests
                rate = failed / len(mine) if mine else 0.0
                latest = sorted(mine, key=lambda r: r.at)[-self.settings.min_requests:]
                all_failing = counted and not any(r.success for r in latest)
                self._hold(UNAVAILABLE_RULE, region, now, down[region] or all_failing,
                           "the region is down: the app refuses connections" if down[region] else
                           f"its last {len(latest)} requests all failed")
                self._hold(FAILED_RATE_RULE, region, now, counted and rate > self.settings.failed_rate,
                           f"failed requests {rate:.1%} > {self.settings.failed_rate:.0%} over the last "
                           f"{self._window()} ({failed} of {len(mine)})")

    def _window(self) -> str:
        seconds = self.settings.window_seconds
        return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"

    def _hold(self, rule: str, region: str, now: float, holds: bool, why: str) -> None:
        fired = self._rule_fired.get((rule, region))
        if holds and fired is None:
            t = self.topology
            severity, kind, service, signal = _RULES[rule]
            record = self._new(rule, severity, t.web_app_id(t.web_apps[region]), t.resource_group, WEB_APP_TYPE,
                               service, signal, f"{t.resource_group_id}/providers/microsoft.insights/{kind}/{rule}",
                               f"{rule} on {t.web_apps[region]}: {why}", now)
            self._rule_fired[(rule, region)] = record.id
        elif not holds and fired is not None:
            del self._rule_fired[(rule, region)]
            self._resolve(fired, now)

    # ------------------------------------------------------------------ by hand
    def fire(self, name: str, severity: str = "Sev1", *, target_resource: str | None = None,
             target_resource_group: str | None = None, target_resource_type: str | None = None,
             monitor_service: str = "Platform", signal_type: str = "Metric", description: str = "") -> AlertRecord:
        """Fire an alert of rule ``name`` now; on the primary region's web app unless told otherwise."""
        if severity not in SEVERITIES:
            raise InvalidAlert(f"severity {severity!r}: one of {', '.join(SEVERITIES)}")
        if not name or "/" in name:
            raise InvalidAlert(f"name {name!r}: a rule name (no '/')")
        t = self.topology
        group = target_resource_group or t.resource_group
        if target_resource is None:
            target_resource = (t.web_app_id(t.web_apps[t.primary_region]) if group.lower() == t.resource_group.lower()
                               else f"/subscriptions/{t.subscription_id}/resourceGroups/{group}/providers/"
                                    f"{WEB_APP_TYPE}/{name.lower()}-app")
        rule = f"/subscriptions/{t.subscription_id}/resourceGroups/{group}/providers/microsoft.insights/metricalerts/{name}"
        with self._lock:
            return self._new(name, severity, target_resource, group,
                             target_resource_type or resource_type_of(target_resource), monitor_service,
                             signal_type, rule, description or f"{name} (fired by hand)", self.clock())

    def resolve(self, alert: str) -> int:
        """Resolve the fired alert with this id, or every fired alert of the rule with this name."""
        now = self.clock()
        with self._lock:
            ids = [a.id for a in self._alerts.values() if a.monitor_condition == "Fired"
                   and (a.id == alert or a.name.lower() == alert.lower())]
            if not ids and alert not in self._alerts:
                raise UnknownAlert(alert)
            for found in ids:
                self._resolve(found, now)
            return len(ids)

    def change_state(self, alert_id: str, new_state: str) -> AlertRecord:
        """ARM's ``changestate``: New, Acknowledged or Closed (by a user)."""
        state = next((s for s in ALERT_STATES if s.lower() == new_state.lower()), None)
        if state is None:
            raise InvalidAlert(f"newState {new_state!r}: one of {', '.join(ALERT_STATES)}")
        with self._lock:
            record = self.get(alert_id)
            changed = replace(record, alert_state=state, modified_at=self.clock(), modified_by="odin-sandbox user")
            self._alerts[record.id] = changed
            return changed

    # ------------------------------------------------------------------ reading
    def get(self, alert_id: str) -> AlertRecord:
        with self._lock:
            found = next((a for a in self._alerts.values() if a.id.lower() == alert_id.lower()), None)
        if found is None:
            raise UnknownAlert(alert_id)
        return found

    def all(self) -> list[AlertRecord]:
        """Every alert (fired, resolved, closed), the rules evaluated first."""
        self.evaluate()
        with self._lock:
            return list(self._alerts.values())

    def summary(self) -> list[dict[str, Any]]:
        """For the admin API and humans: the essentials that decide a gate."""
        return [{"id": a.id, "name": a.name, "severity": a.severity, "monitor_condition": a.monitor_condition,
                 "alert_state": a.alert_state, "target_resource": a.target_resource,
                 "description": a.description} for a in self.all()]

    def clear(self) -> None:
        with self._lock:
            self._alerts.clear()
            self._rule_fired.clear()

    # ------------------------------------------------------------------ internals
    def _new(self, name: str, severity: str, target: str, group: str, rtype: str, service: str, signal: str,
             rule: str, description: str, now: float) -> AlertRecord:
        record = AlertRecord(id=str(uuid.uuid4()), name=name, severity=severity, target_resource=target,
                             target_resource_group=group, target_resource_type=rtype, monitor_service=service,
                             signal_type=signal, alert_rule=rule, description=description, started_at=now,
                             modified_at=now)
        self._alerts[record.id] = record
        return record

    def _resolve(self, alert_id: str, now: float) -> None:
        record = self._alerts[alert_id]
        self._alerts[alert_id] = replace(record, monitor_condition="Resolved", resolved_at=now, modified_at=now)
        for key, fired in list(self._rule_fired.items()):
            if fired == alert_id:
                del self._rule_fired[key]
