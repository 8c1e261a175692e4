"""The outage rung, detected from what the metric source measured (not only hand-written).

A step that takes the service down must get ``rollback_now`` at once, not a ``rollback`` that
waits for evidence or a second window: the handbook's "complete service outage: roll back
immediately". Both judges (``gates.evaluate`` and ``sequential.SequentialWatch.add``) and so
``odin gate``, ``odin replay`` and every run ask ``detected_signals`` for a window's hard signals;
the rule itself is ``policy.outage`` (``odin_drills.plan.policy.OutageRule``):

    outage  <=>  requests >= outage.min_requests  and  errors / requests >= outage.error_rate

The counts are the source's: the synthetic probe counts every scheduled request, and a refused,
reset or timed-out request is an error, so a service that is down (process killed, port closed)
fails every request of the window. A source that knows more (a Prometheus ``up`` query: the
scrape target was down the whole window, so its counters could not even grow) sets
``signals.outage`` itself with its own sentence in ``signals.details["outage"]``. The decision
shows the sentence, with its numbers, in place of "outage reported".

Alerts (``Snapshot.alerts``, filled by an alert source: ``odin_drills.steps.alerts``) map onto
the same signals: Sev 0 -> outage, Sev 1 -> sev1_alerts, a security alert -> security_breach, and
an alert firing now whose fingerprint was not firing in the baseline -> new_alerts. The baseline
is the one the window is judged against, so "new" means new since T-1w, whatever process or day
the window is judged in.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from odin_drills.steps.snapshot import FiringAlert, Signals, Snapshot


def outage_reason(window: Snapshot, rule: Any) -> str | None:
    """The sentence saying why ``window`` is an outage under ``rule``; None when it is not."""
    if rule is None or not rule.enabled or window.requests < rule.min_requests:
        return None
    share = window.errors / window.requests
    if share < rule.error_rate:
        return None
    return (f"outage: {window.errors:,} of {window.requests:,} requests failed in the window "
            f"({share:.2%} >= {rule.error_rate:.2%} with >= {rule.min_requests} requests: policy.outage)")


def detected_signals(window: Snapshot, policy: Any, baseline: Snapshot | None = None) -> Signals:
    """The window's signals with the outage rule and its alerts applied (signals already set stay:
    a detection only ever raises a signal, never clears one)."""
    signals = window.signals
    update: dict[str, Any] = {}
    details = dict(signals.details)
    if not signals.outage:
        reason = outage_reason(window, getattr(policy, "outage", None))
        if reason is not None:
            update["outage"], details["outage"] = True, reason
    if window.alerts is not None:
        _alert_signals(window.alerts, baseline, signals, update, details)
    if not update:
        return signals
    return signals.model_copy(update={**update, "details": details})


def _names(alerts: list[FiringAlert]) -> str:
    shown = [f"{a.name} ({a.severity})" if a.severity else a.name for a in alerts[:5]]
    return ", ".join(shown) + (f" and {len(alerts) - 5} more" if len(alerts) > 5 else "")


def _alert_signals(alerts: list[FiringAlert], baseline: Snapshot | None, signals: Signals,
                   update: dict[str, Any], details: dict[str, str]) -> None:
    """The handbook's severities on the ladder: Sev 0 is an outage (rollback now), Sev 1 counts
    (1 hold, 2 or more rollback), a security alert is a breach, and anything firing now that was
    not firing at the baseline is new (watch): "no new alerts firing" before proceeding."""
    sev0 = [a for a in alerts if a.level == "sev0"]
    if sev0 and not signals.outage:
        update["outage"] = True
        details["outage"] = f"outage: {len(sev0)} Sev 0 alert{'s' if len(sev0) != 1 else ''} firing: {_names(sev0)}"
    security = [a for a in alerts if a.security]
    if security and not signals.security_breach:
        update["security_breach"] = True
        details["security_breach"] = f"security breach: {len(security)} security alert(s) firing: {_names(security)}"
    sev1 = [a for a in alerts if a.level == "sev1"]
    if len(sev1) > signals.sev1_alerts:
        update["sev1_alerts"] = len(sev1)
        details["sev1_alerts"] = f"{len(sev1)} Sev 1 alert{'s' if len(sev1) != 1 else ''} firing: {_names(sev1)}"
    before = {a.fingerprint for a in (baseline.alerts or [])} if baseline is not None else set()
    new = [a for a in alerts if a.fingerprint not in before]
    if len(new) > signals.new_alerts:
        known = ("" if baseline is not None and baseline.alerts is not None
                 else " (the baseline recorded no alerts: every firing alert counts as new)")
        update["new_alerts"] = len(new)
        details["new_alerts"] = (f"{len(new)} new alert{'s' if len(new) != 1 else ''} firing since the baseline "
                                 f"({len(before)} were firing then): {_names(new)}{known}")
