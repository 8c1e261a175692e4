"""Alert sources: what the service's own monitoring says is firing, read at the end of each window.

``AlertmanagerSource`` reads the Alertmanager API v2, ``AzureMonitorAlertsSource``
(``azure_monitor_alerts``) Azure Monitor's alerts through azure-mgmt-alertsmanagement;
``AlertedSource`` wraps any metric source so each window's ``Snapshot.alerts`` lists the alerts
firing when it ended. The ladder maps them to
its signals (``odin_drills.steps.outage.detected_signals``).
"""

from odin_drills.steps.alerts.alertmanager import AlertmanagerSource, AlertSourceUnavailable, matches
from odin_drills.steps.alerts.attach import AlertedSource
from odin_drills.steps.alerts.azure_monitor_alerts import AzureMonitorAlertsSource

__all__ = ["AlertSourceUnavailable", "AlertedSource", "AlertmanagerSource", "AzureMonitorAlertsSource", "matches"]
