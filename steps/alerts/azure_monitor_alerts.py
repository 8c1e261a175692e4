"""Firing alerts from Azure Monitor (``Microsoft.AlertsManagement/alerts``) through the real
``azure-mgmt-alertsmanagement`` client (``AlertsManagementClient(...).alerts.get_all``).

Authentication, endpoint and TLS are the target's, exactly as for every azure-mgmt client here
(``odin_drills.steps.azure.clients.AzureSession``): real Azure uses ``DefaultAzureCredential`` and
management.azure.com; a sandbox target the sandbox's ARM URL and CA (from ``ODIN_SANDBOX_INFO``).
The session is opened on the first read, so a sandbox started after the plan was loaded is found.

What counts, and why:

- only alerts fired now (``monitorCondition: Fired``) and not closed by a person (``alertState``
  New or Acknowledged: an acknowledged alert is being worked on, its condition still holds);
- only the service's own: on resources of ``target_resource_group`` (and ``target_resource``,
  ``target_resource_type``, ``alert_rules`` when the plan names them). The group and resource go to
  Azure as its own filters; every condition is checked again here, so an answer that ignores a
  filter cannot let another service's alerts in;
- Azure's severities are the handbook's: Sev0 -> ``sev0``, Sev1 -> ``sev1``, Sev2-Sev4 ``lower``;
  a rule in ``security.alert_rules`` or a monitor service in ``security.monitor_services`` marks a
  security alert.

An alert's fingerprint is its ARM id: a rule that resolves and fires again is a new alert in Azure,
and so a new one against the baseline. An API that does not answer (refused, HTTP error, not a list
of alerts) raises ``AlertSourceUnavailable``: the window is inconclusive, never proceed.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from odin_drills.plan.telemetry import AzureMonitorAlerts
from odin_drills.steps.alerts.alertmanager import AlertSourceUnavailable
from odin_drills.steps.snapshot import FiringAlert

TIME_RANGE = "30d"
"""Azure's longest look-back (its default is 1d): an alert fired two days ago and still firing counts."""
PAGE_COUNT = 250
LEVELS = {"sev0": "sev0", "sev1": "sev1"}


class AzureMonitorAlertsSource:
    """Reads the alerts firing now; one SDK client (one ``AzureSession``) kept open until ``close``."""

    def __init__(self, spec: AzureMonitorAlerts, target: Any = None, session: Any = None) -> None:
        self.spec = spec
        self._target = target
        self._session = session
        self._own = session is None
        scope = spec.target_resource or f"resource group {spec.target_resource_group}"
        self.name = f"azure_monitor_alerts {scope}"

    # ------------------------------------------------------------------ reading
    def firing(self) -> list[FiringAlert]:
        """The service's alerts fired and not closed, sorted by level and name (as Alertmanager's)."""
        found = [a for a in self._read(monitor_condition="Fired") if self._counts(a)]
        return sorted((self._alert(a) for a in found), key=lambda a: (a.level, a.name, a.fingerprint))

    def started_since(self, since_wall: datetime) -> list[dict[str, Any]]:
        """The service's alerts (fired or resolved, any state) that started at or after ``since_wall``:
        the T+24h incident count's view. Each is a ``FiringAlert`` dump plus ``state`` and ``started_at``."""
        out = []
        for item in self._read(monitor_condition=None):
            essentials = _essentials(item)
            started = getattr(essentials, "start_date_time", None)
            if started is None or started < since_wall or not self._ours(item):
                continue
            state = f"{essentials.monitor_condition or '?'}/{essentials.alert_state or '?'}"
            out.append({**self._alert(item).model_dump(), "state": state, "started_at": started.isoformat()})
        return out

    def _read(self, monitor_condition: str | None) -> list[Any]:
        from azure.core.exceptions import AzureError

        spec = self.spec
        try:
            client = self._client()
            pages = client.alerts.get_all(target_resource_group=spec.target_resource_group,
                                          target_resource=spec.target_resource, monitor_condition=monitor_condition,
                                          time_range=TIME_RANGE, page_count=PAGE_COUNT)
            items = list(pages)
        except AzureError as exc:
            message = str(getattr(exc, "message", None) or exc).strip().splitlines()
            raise AlertSourceUnavailable(f"{self.name}: {type(exc).__name__}: {message[0] if message else ''}") from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise AlertSourceUnavailable(f"{self.name}: not a list of alerts ({type(exc).__name__}: {exc})") from exc
        if any(_essentials(item) is None for item in items):
            raise AlertSourceUnavailable(f"{self.name}: an alert without essentials: not Azure Monitor's answer")
        return items

    def _client(self) -> Any:
        """The SDK client, built on first use (``UsageError`` of an unreachable target -> unavailable)."""
        from odin_drills.errors import UsageError
        from odin_drills.steps.azure.clients import AzureSession

        if self._session is None:
            target = self._target
            if getattr(target, "kind", None) not in ("azure", "sandbox") and self.spec.subscription_id:
                target = SimpleNamespace(kind="azure", subscription_id=self.spec.subscription_id)
            try:
                self._session = AzureSession(target, retry_total=2, retry_backoff_factor=0.2,
                                             connection_timeout=self.spec.timeout, read_timeout=self.spec.timeout)
            except UsageError as exc:
                raise AlertSourceUnavailable(f"{self.name}: {exc}") from exc
        return self._session.client("alerts", self.spec.subscription_id)

    # ------------------------------------------------------------------ judging one alert
    def _counts(self, item: Any) -> bool:
        essentials = _essentials(item)
        return (str(essentials.monitor_condition or "").lower() == "fired"
                and str(essentials.alert_state or "").lower() != "closed" and self._ours(item))

    def _ours(self, item: Any) -> bool:
        essentials, spec = _essentials(item), self.spec
        if _low(essentials.target_resource_group) != spec.target_resource_group.lower():
            return False
        if spec.target_resource and _low(essentials.target_resource) != spec.target_resource.lower():
            return False
        if spec.target_resource_type and _low(essentials.target_resource_type) != spec.target_resource_type.lower():
            return False
        return not spec.alert_rules or _rule_name(item) in {r.lower() for r in spec.alert_rules}

    def _alert(self, item: Any) -> FiringAlert:
        essentials, security = _essentials(item), self.spec.security
        severity = str(essentials.severity) if essentials.severity else None
        on = essentials.target_resource_name
        name = str(item.name or _rule_name(item) or item.id)
        is_security = (_rule_name(item) in {r.lower() for r in security.alert_rules}
                       or _low(essentials.monitor_service) in {s.lower() for s in security.monitor_services})
        return FiringAlert(fingerprint=str(item.id or essentials.source_created_id or name),
                           name=f"{name} on {on}" if on else name, severity=severity,
                           level=LEVELS.get(_low(severity), "lower"), security=is_security)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._own and self._session is not None:
            self._session.close()


def _essentials(item: Any) -> Any:
    return getattr(getattr(item, "properties", None), "essentials", None)


def _low(value: Any) -> str:
    return str(value or "").lower()


def _rule_name(item: Any) -> str:
    """The alert rule's name: the last segment of its id (Azure's ``name`` is the rule's too)."""
    rule = str(_essentials(item).alert_rule or "").rstrip("/")
    return (rule.rsplit("/", 1)[-1] if rule.startswith("/subscriptions/") else str(item.name or "")).lower()
