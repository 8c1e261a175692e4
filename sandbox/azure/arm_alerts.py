"""ARM routes for Microsoft.AlertsManagement/alerts: Azure Monitor's alert instances of the
subscription, in the shape of Microsoft's example (``Alerts_List.json``, api-version
2019-05-05-preview, what ``azure-mgmt-alertsmanagement`` 1.0.1 sends).

- ``GET /subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts``: the alerts, the
  rules evaluated first (``alerts.AlertBook``). Filters as Azure applies them, case-insensitive:
  ``targetResource``, ``targetResourceType``, ``targetResourceGroup``, ``monitorService``,
  ``monitorCondition``, ``severity``, ``alertState``, ``alertRule`` (the rule's id or name),
  ``timeRange`` (1h, 1d, 7d, 30d on the start time; 1d when absent, as Azure's default);
  newest change first; ``pageCount`` per page (25 by default) with an absolute ``nextLink``;
- ``GET .../alerts/{alertId}``; ``POST .../alerts/{alertId}/changestate?newState=Closed``.

Kept beside ``arm_app`` rather than in it, like ``arm_dns``: it shares only the front door (auth,
faults, the subscription check) and keeps no long-running operations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .alerts import AlertBook, AlertRecord, InvalidAlert, UnknownAlert
from .clock import iso
from .errors import ArmError

if TYPE_CHECKING:
    from .arm_app import Call, Result

Handler = Callable[["Call"], "Result"]

ALERTS_PATH = r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.AlertsManagement/alerts"
TIME_RANGES = {"1h": 3600.0, "1d": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
DEFAULT_PAGE = 25
MAX_PAGE = 250
_FILTERS = {  # query parameter -> AlertRecord attribute
    "targetResource": "target_resource",
    "targetResourceType": "target_resource_type",
    "targetResourceGroup": "target_resource_group",
    "monitorService": "monitor_service",
    "monitorCondition": "monitor_condition",
    "severity": "severity",
    "alertState": "alert_state",
}


def alert_routes(book: AlertBook, subscription_id: str) -> list[tuple[str, str, Handler]]:
    """``(method, path pattern, handler)`` for ``ArmApi``'s table."""

    def list_alerts(call: Call) -> Result:
        query = {k.lower(): v for k, v in call.query.items()}
        found = [a for a in book.all() if _kept(a, query, book.clock())]
        found.sort(key=lambda a: a.modified_at, reverse=query.get("sortorder", "desc").lower() != "asc")
        size = _page_size(query.get("pagecount"))
        offset = _int(query.get("ctoken"), "ctoken")
        page: dict[str, Any] = {"value": [alert_shape(a, subscription_id) for a in found[offset:offset + size]]}
        if offset + size < len(found):
            following = {k: v for k, v in call.query.items() if k.lower() != "ctoken"}
            page["nextLink"] = f"{call.base}{call.path}?{urlencode({**following, 'ctoken': offset + size})}"
        return 200, page, {}

    def get_alert(call: Call) -> Result:
        return 200, alert_shape(_one(call.params["alert"]), subscription_id), {}

    def change_state(call: Call) -> Result:
        state = next((v for k, v in call.query.items() if k.lower() == "newstate"), None)
        if not state:
            raise ArmError(400, "BadRequest", "The newState query parameter is required (New, Acknowledged, Closed).")
        record = _one(call.params["alert"])
        try:
            changed = book.change_state(record.id, state)
        except InvalidAlert as exc:
            raise ArmError(400, "BadRequest", str(exc)) from None
        return 200, alert_shape(changed, subscription_id), {}

    def _one(alert_id: str) -> AlertRecord:
        book.evaluate()
        try:
            return book.get(alert_id)
        except UnknownAlert:
            raise ArmError(404, "ResourceNotFound", f"The alert '{alert_id}' was not found.") from None

    alert = ALERTS_PATH + "/(?P<alert>[^/]+)"
    return [("GET", ALERTS_PATH + "$", list_alerts),
            ("GET", alert + "$", get_alert),
            ("POST", alert + "/changestate$", change_state)]


def _kept(alert: AlertRecord, query: dict[str, str], now: float) -> bool:
    for name, attribute in _FILTERS.items():
        wanted = query.get(name.lower())
        if wanted and str(getattr(alert, attribute)).lower() != wanted.lower():
            return False
    rule = query.get("alertrule")
    if rule and rule.lower() not in (alert.alert_rule.lower(), alert.rule_name.lower()):
        return False
    span = query.get("timerange", "1d")
    if span not in TIME_RANGES:
        raise ArmError(400, "BadRequest", f"timeRange '{span}' is not one of {', '.join(TIME_RANGES)}.")
    return alert.started_at >= now - TIME_RANGES[span]


def _page_size(text: str | None) -> int:
    size = DEFAULT_PAGE if text is None else _int(text, "pageCount")
    if not 1 <= size <= MAX_PAGE:
        raise ArmError(400, "BadRequest", f"pageCount must be between 1 and {MAX_PAGE}.")
    return size


def _int(text: str | None, name: str) -> int:
    try:
        return int(text or 0)
    except ValueError:
        raise ArmError(400, "BadRequest", f"{name} '{text}' is not an integer.") from None


def alert_shape(alert: AlertRecord, subscription_id: str) -> dict[str, Any]:
    """One alert in the published example's shape (essentials, empty egressConfig and context)."""
    essentials: dict[str, Any] = {
        "severity": alert.severity,
        "signalType": alert.signal_type,
        "alertState": alert.alert_state,
        "monitorCondition": alert.monitor_condition,
        "monitorService": alert.monitor_service,
        "targetResource": alert.target_resource,
        "targetResourceName": alert.target_resource_name,
        "targetResourceGroup": alert.target_resource_group,
        "targetResourceType": alert.target_resource_type,
        "sourceCreatedId": alert.id,
        "alertRule": alert.alert_rule,
        "startDateTime": iso(alert.started_at),
        "lastModifiedDateTime": iso(alert.modified_at),
        "lastModifiedUserName": alert.modified_by,
        "actionStatus": {"isSuppressed": False},
        "description": alert.description,
    }
    if alert.resolved_at is not None:
        essentials["monitorConditionResolvedDateTime"] = iso(alert.resolved_at)
    return {"properties": {"essentials": essentials, "egressConfig": {}, "context": {}},
            "id": f"/subscriptions/{subscription_id}/providers/Microsoft.AlertsManagement/alerts/{alert.id}",
            "type": "Microsoft.AlertsManagement/alerts", "name": alert.name}
