"""Alertmanager as the alert source, fed by a real Prometheus' alerting rules.

A small exporter (the official prometheus-client) publishes one gauge per alarm; a real Prometheus
(Debian ``prometheus``) scrapes it and evaluates alerting rules with the handbook's severities; a
real Alertmanager (Debian ``prometheus-alertmanager``) receives the alerts; odin reads
``/api/v2/alerts`` at the end of each window while the synthetic probe sends the demo service real
traffic. Plan time is scaled. Every process is stopped by its PID; the servers are shared by the
module's tests, and each test clears its alarms and waits for Alertmanager to agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from odin_drills.plan.journeys import SyntheticProbe
from odin_drills.plan.policy import Policy
from odin_drills.plan.telemetry import AlertmanagerAlerts
from odin_drills.sandbox.bluegreen import BlueGreenDemo
from odin_drills.steps.alerts import AlertedSource, AlertmanagerSource, matches
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.outage import detected_signals
from odin_drills.steps.probes import SyntheticProbeSource
from tests.monitoring_servers import alertmanager, prometheus, scraped, wait_until

SERVICE = "demo-shop"
RULES = [  # alert name, alarm, labels
    ("HighErrorRate", "sev1-a", {"severity": "high", "service": SERVICE}),
    ("ErrorBudgetBurn", "sev1-b", {"severity": "sev1", "service": SERVICE}),
    ("AppUnavailable", "sev0", {"severity": "critical", "service": SERVICE}),
    ("ElevatedLatency", "sev2", {"severity": "warning", "service": SERVICE}),
    ("CertificateExpiring", "old", {"severity": "sev3", "service": SERVICE}),
    ("SuspiciousLogins", "security", {"severity": "warning", "service": SERVICE, "category": "security"}),
    ("OtherShopDown", "other", {"severity": "critical", "service": "other-shop"}),
]


class Monitoring:
    def __init__(self, demo: BlueGreenDemo, prometheus_url: str, alertmanager_url: str, alarms: Gauge) -> None:
        self.demo, self.prometheus_url, self.alertmanager_url, self.alarms = demo, prometheus_url, alertmanager_url, alarms

    def firing(self) -> set[str]:
        found = httpx.get(self.alertmanager_url + "/api/v2/alerts", params={"active": "true"}, trust_env=False).json()
        return {a["labels"]["alertname"] for a in found if a["status"]["state"] == "active"}

    def set(self, *alarms: str) -> None:
        """Exactly these alarms on; returns when Alertmanager lists exactly their alerts."""
        for _, alarm, _ in RULES:
            self.alarms.labels(alarm=alarm).set(1 if alarm in alarms else 0)
        wanted = {name for name, alarm, _ in RULES if alarm in alarms}
        wait_until(lambda: self.firing() == wanted, timeout=45, what=f"Alertmanager to list exactly {sorted(wanted)}")

    def spec(self, **overrides: object) -> AlertmanagerAlerts:
        return AlertmanagerAlerts.model_validate({"kind": "alertmanager", "url": self.alertmanager_url,
                                                  "filter": [f'service="{SERVICE}"'],
                                                  "security": ['category="security"'], **overrides})

    def source(self, clock: ScaledClock, **overrides: object) -> AlertedSource:
        probe = SyntheticProbeSource(SyntheticProbe(url=self.demo.router_url + "/api/orders/3", rate_per_second=150,
                                                    timeout=2.0, min_window_wall_seconds=1.0), clock)
        return AlertedSource(probe, AlertmanagerSource(self.spec(**overrides)))


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitoring]:
    folder = tmp_path_factory.mktemp("monitoring")
    registry = CollectorRegistry()
    alarms = Gauge("odin_test_alarm", "1 while the test wants the alarm's alert firing", ["alarm"], registry=registry)
    for _, alarm, _ in RULES:
        alarms.labels(alarm=alarm).set(0)
    exporter, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    demo = BlueGreenDemo(seed=3, port=0, error_rate=0.01).start()
    rules = [{"alert": name, "expr": f'odin_test_alarm{{alarm="{alarm}"}} > 0', "labels": labels}
             for name, alarm, labels in RULES]
    try:
        with alertmanager(folder / "alertmanager") as am, \
                prometheus(folder / "prometheus", {"exporter": {"target": f"127.0.0.1:{exporter.server_port}"}},
                           rules=rules, alertmanager=am) as prom:
            wait_until(lambda: scraped(prom, "exporter"), what="Prometheus to scrape the exporter")
            yield Monitoring(demo, prom, am, alarms)
    finally:
        demo.stop()
        exporter.shutdown()
        exporter.server_close()
        thread.join(timeout=10)


@pytest.fixture
def clean(monitoring: Monitoring) -> Iterator[Monitoring]:
    monitoring.set()
    try:
        yield monitoring
    finally:
        for _, alarm, _ in RULES:
            monitoring.alarms.labels(alarm=alarm).set(0)


def watch(monitoring: Monitoring, clock: ScaledClock, source: AlertedSource, *alarms: str):
    """Baseline (no alarms beyond those already on), then ``alarms`` on, then a 3-window watch."""
    baseline = source.measure(600)
    monitoring.set(*alarms)
    journal = MemoryJournal()
    verdict = Judge(source=source, baseline=baseline, policy=Policy(), journal=journal,
                    clock=clock).watch(900, phase="t0", step="cut-over", interval=300)
    gates = [fields["decision"] for kind, fields in journal.entries if kind == "gate"]
    return baseline, verdict, gates


def test_two_sev1_alerts_roll_back_in_the_first_window_whatever_the_traffic_says(clean):
    clock = ScaledClock(scale=300)
    source = clean.source(clock)
    try:
        _, verdict, gates = watch(clean, clock, source, "sev1-a", "sev1-b")
    finally:
        source.close()
    first = gates[0]
    assert first.decision == "rollback", first.reasons
    assert "2 Sev 1 alerts firing: ErrorBudgetBurn (sev1), HighErrorRate (high)" in first.reasons
    # the alert rules' own `for:` is their confirmation: no second window (a hand-written sev1_alerts keeps two)
    assert verdict.action == "rollback" and verdict.windows == 1
    assert verdict.reason.startswith("conclusive after window 1: ")
    assert first.alert_tier == "rollback" and first.evidence_tier == "ok"


def test_one_sev1_alert_holds(clean):
    clock = ScaledClock(scale=300)
    source = clean.source(clock)
    try:
        _, verdict, _ = watch(clean, clock, source, "sev1-a")
    finally:
        source.close()
    assert verdict.action == "hold" and verdict.windows == 1
    assert "1 Sev 1 alert firing: HighErrorRate (high)" in verdict.reason


def test_a_sev0_alert_is_an_outage_rolled_back_now_without_confirmation(clean):
    clock = ScaledClock(scale=300)
    source = clean.source(clock)
    try:
        _, verdict, _ = watch(clean, clock, source, "sev0")
    finally:
        source.close()
    assert verdict.action == "rollback_now" and verdict.windows == 1
    assert verdict.reason.startswith("outage: 1 Sev 0 alert firing: AppUnavailable (critical)")


def test_a_security_alert_is_a_security_breach(clean):
    clock = ScaledClock(scale=300)
    source = clean.source(clock)
    try:
        _, verdict, _ = watch(clean, clock, source, "security")
    finally:
        source.close()
    assert verdict.action == "rollback_now" and verdict.windows == 1
    assert verdict.reason.startswith("security breach: 1 security alert(s) firing: SuspiciousLogins (warning)")


def test_a_new_lower_severity_alert_is_a_watch_but_one_firing_at_the_baseline_is_not_new(clean):
    clock = ScaledClock(scale=300)
    source = clean.source(clock)
    try:
        clean.set("old")  # firing before the baseline: not new
        baseline = source.measure(600)
        assert [a.name for a in baseline.alerts or []] == ["CertificateExpiring"]
        same = source.measure(300)
        clean.set("old", "sev2")
        later = source.measure(300)
    finally:
        source.close()
    assert [a.name for a in same.alerts or []] == ["CertificateExpiring"]
    assert detected_signals(same, Policy(), baseline).new_alerts == 0
    signals = detected_signals(later, Policy(), baseline)
    assert signals.new_alerts == 1
    # The ladder on the alerts read: judged on the baseline's own traffic, so the probe's latency on a
    # busy machine cannot decide instead of them.
    traffic = baseline.model_copy(update={"alerts": None})
    quiet = evaluate(baseline, traffic.model_copy(update={"alerts": same.alerts}), Policy())
    assert quiet.decision in ("proceed", "inconclusive")  # inconclusive: 300 requests cannot rule out 2x errors
    assert not any("new alert" in reason for reason in quiet.reasons)
    decision = evaluate(baseline, traffic.model_copy(update={"alerts": later.alerts}), Policy())
    assert decision.decision == "watch"
    assert ("1 new alert firing since the baseline (1 were firing then): ElevatedLatency (warning)"
            in decision.reasons)
    live = evaluate(baseline, later, Policy())  # the live window says it too, whatever else it says
    assert "1 new alert firing since the baseline (1 were firing then): ElevatedLatency (warning)" in live.reasons


def test_only_the_services_own_alerts_count(clean):
    clock = ScaledClock(scale=300)
    source = clean.source(clock)
    try:
        baseline = source.measure(600)
        clean.set("other")  # a Sev 0 of another service
        window = source.measure(300)
    finally:
        source.close()
    assert window.alerts == []
    assert evaluate(baseline, window, Policy()).decision != "rollback_now"


def test_an_alertmanager_that_does_not_answer_leaves_the_window_inconclusive(clean):
    from tests.http_servers import refusing_url

    clock = ScaledClock(scale=300)
    with refusing_url() as dead:
        source = clean.source(clock, url=dead.rstrip("/"), timeout=2.0)
        try:
            window = source.measure(300)
        finally:
            source.close()
    said = window.signals.details["unavailable"]
    assert said.startswith("alerts unknown for this window (alertmanager http://127.0.0.1:") and "ConnectError" in said
    assert window.alerts is None
    baseline = window.model_copy(update={"signals": window.signals.model_copy(update={"details": {}})})
    decision = evaluate(baseline, window, Policy())
    assert decision.decision == "inconclusive" and said in decision.reasons


def test_label_matchers():
    labels = {"service": "demo-shop", "severity": "high"}
    assert matches(['service="demo-shop"', 'severity=~"high|sev1"'], labels)
    assert not matches(['service!="demo-shop"'], labels)
    assert matches(['team=""'], labels) and not matches(['severity!~"hi.*"'], labels)
    assert not matches(['severity=~"hig"'], labels)  # anchored, as in Alertmanager
