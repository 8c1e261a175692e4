"""Azure Monitor's alerts as the alert source (``alerts: {kind: azure_monitor_alerts}``, issue 10).

The real ``azure-mgmt-alertsmanagement`` client reads ``Microsoft.AlertsManagement/alerts`` over
HTTPS (the sandbox's CA) from the sandbox's ARM endpoint. Its alerts are either fired by hand (as a
person's alert rule would fire them) or come from the sandbox's own rules evaluated on the request
telemetry the regional demo apps recorded from real traffic: failed requests > 5 % over 5 minutes
-> Sev1, an app unavailable -> Sev0. The synthetic probe sends the eastus app real traffic; the
ladder, the sequential judge and the journal are the real ones, plan time is scaled. One sandbox
serves the module (stopped in a ``finally``); each test starts from ``reset()``.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml

from odin_drills.plan.journeys import SyntheticProbe
from odin_drills.plan.policy import Policy
from odin_drills.plan.telemetry import AzureMonitorAlerts
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.alerts import AlertedSource
from odin_drills.steps.alerts.azure_monitor_alerts import AzureMonitorAlertsSource
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.outage import detected_signals
from odin_drills.steps.probes import SyntheticProbeSource
from odin_drills.steps.probes.open import open_metric_source
from tests.conftest import run_odin
from tests.test_judge import BASELINE, HEALTHY
from tests.test_plan_validation import GOOD

EXAMPLE = Path(__file__).resolve().parent / "contract" / "azure-rest-examples" / "alertsmanagement" / "Alerts_List.json"
GROUP = "rg-odin-drills"


@pytest.fixture(scope="module")
def running() -> Iterator[AzureSandbox]:
    sandbox = AzureSandbox(seed=5, probe_interval_seconds=0.5).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def sandbox(running: AzureSandbox) -> Iterator[AzureSandbox]:
    running.reset()
    try:
        yield running
    finally:
        running.reset()


def target(sandbox: AzureSandbox, **overrides: Any) -> SimpleNamespace:
    info = sandbox.info()
    return SimpleNamespace(**{"kind": "sandbox", "arm_url": info["arm_url"], "ca_cert": info["ca_cert"],
                              "subscription_id": info["subscription_id"], **overrides})


def spec(**overrides: Any) -> AzureMonitorAlerts:
    return AzureMonitorAlerts.model_validate({"kind": "azure_monitor_alerts", "target_resource_group": GROUP,
                                              "security": {"alert_rules": ["SuspiciousSignIns"]}, "timeout": 5,
                                              **overrides})


def alerts_of(sandbox: AzureSandbox, **overrides: Any) -> AzureMonitorAlertsSource:
    return AzureMonitorAlertsSource(spec(**overrides), target=target(sandbox))


def probed(sandbox: AzureSandbox, clock: ScaledClock) -> AlertedSource:
    probe = SyntheticProbeSource(SyntheticProbe(url=sandbox.info()["regions"]["eastus"] + "/health",
                                                rate_per_second=150, timeout=2.0, min_window_wall_seconds=1.0), clock)
    return AlertedSource(probe, alerts_of(sandbox))


def watch(sandbox: AzureSandbox, fire: Any) -> tuple[Any, list[Any]]:
    """Baseline (healthy, nothing firing), then ``fire()``, then a 3-window watch; the verdict and gates."""
    clock = ScaledClock(scale=300)
    source = probed(sandbox, clock)
    journal = MemoryJournal()
    try:
        baseline = source.measure(600)
        assert baseline.alerts == [], baseline.alerts
        fire()
        verdict = Judge(source=source, baseline=baseline, policy=Policy(), journal=journal,
                        clock=clock).watch(900, phase="t0", step="cut-over", interval=300)
    finally:
        source.close()
    return verdict, [fields["decision"] for kind, fields in journal.entries if kind == "gate"]


def requests(sandbox: AzureSandbox, region: str, count: int) -> list[int]:
    with httpx.Client(timeout=5, trust_env=False) as client:
        return [client.get(sandbox.info()["regions"][region] + "/health").status_code for _ in range(count)]


# ---------------------------------------------------------------------------------- the ladder

def test_two_sev1_alerts_roll_back_in_the_first_window(sandbox: AzureSandbox) -> None:
    def fire() -> None:
        sandbox.fire_alert("HighErrorRate", "Sev1")
        sandbox.fire_alert("BudgetBurn", "Sev1")

    verdict, gates = watch(sandbox, fire)
    first = gates[0]
    assert first.decision == "rollback", first.reasons
    assert "2 Sev 1 alerts firing: BudgetBurn on app-eastus (Sev1), HighErrorRate on app-eastus (Sev1)" in first.reasons
    assert verdict.action == "rollback" and verdict.windows == 1  # the rules' own evaluation is the confirmation
    # the alerts decided: the probe's own evidence (a busy 2-core machine may hold on latency) did not
    assert first.alert_tier == "rollback" and first.evidence_tier not in ("rollback", "rollback_now")


def test_the_sandboxs_unavailable_rule_on_a_region_outage_is_rolled_back_now(sandbox: AzureSandbox) -> None:
    # westus (no traffic of ours) goes dark: only Azure Monitor's AppUnavailable (Sev0) can tell
    verdict, gates = watch(sandbox, lambda: sandbox.faults.add({"kind": "region_outage", "region": "westus"}))
    assert verdict.action == "rollback_now" and verdict.windows == 1, verdict.reason
    assert verdict.reason.startswith("outage: 1 Sev 0 alert firing: AppUnavailable on app-westus (Sev0)")
    assert gates[0].decision == "rollback_now"


def test_a_hand_fired_sev0_and_a_security_alert_are_rolled_back_now(sandbox: AzureSandbox) -> None:
    source = alerts_of(sandbox)
    try:
        baseline_alerts = source.firing()
        sandbox.fire_alert("CheckoutDown", "Sev0")
        sev0 = source.firing()
        sandbox.resolve_alert("CheckoutDown")
        sandbox.fire_alert("SuspiciousSignIns", "Sev3", monitor_service="ActivityLog Security")
        breach = source.firing()
    finally:
        source.close()
    assert baseline_alerts == []
    assert [(a.name, a.level) for a in sev0] == [("CheckoutDown on app-eastus", "sev0")]
    assert [(a.name, a.security) for a in breach] == [("SuspiciousSignIns on app-eastus", True)]
    decision = evaluate(BASELINE.model_copy(update={"alerts": []}), HEALTHY.model_copy(update={"alerts": breach}),
                        Policy())
    assert decision.decision == "rollback_now"
    assert decision.reasons[0] == "security breach: 1 security alert(s) firing: SuspiciousSignIns on app-eastus (Sev3)"


def test_a_new_sev2_alert_is_a_watch_but_one_firing_at_the_baseline_is_not_new(sandbox: AzureSandbox) -> None:
    source = alerts_of(sandbox)
    try:
        sandbox.fire_alert("CertificateExpiring", "Sev3")  # firing before the baseline: not new
        before = source.firing()
        same = source.firing()
        sandbox.fire_alert("ElevatedLatency", "Sev2")
        later = source.firing()
    finally:
        source.close()
    baseline = BASELINE.model_copy(update={"alerts": before})
    assert [a.name for a in before] == ["CertificateExpiring on app-eastus"]
    quiet = HEALTHY.model_copy(update={"alerts": same})
    assert detected_signals(quiet, Policy(), baseline).new_alerts == 0
    assert evaluate(baseline, quiet, Policy()).decision == "proceed"
    decision = evaluate(baseline, HEALTHY.model_copy(update={"alerts": later}), Policy())
    assert decision.decision == "watch", decision.reasons
    assert ("1 new alert firing since the baseline (1 were firing then): ElevatedLatency on app-eastus (Sev2)"
            in decision.reasons)


# ---------------------------------------------------------------------------------- what counts

def test_only_the_services_own_fired_and_open_alerts_count(sandbox: AzureSandbox) -> None:
    info = sandbox.info()
    sandbox.fire_alert("OtherShopDown", "Sev0", target_resource_group="rg-other-shop")
    closed = sandbox.fire_alert("ClosedByOnCall", "Sev1")
    sandbox.fire_alert("Resolved", "Sev1")
    sandbox.resolve_alert("Resolved")
    acknowledged = sandbox.fire_alert("Acknowledged", "Sev1")
    source = alerts_of(sandbox)
    try:
        client = source._client()  # the SDK's own changestate, as a person in the portal would
        client.alerts.change_state(closed.id, "Closed")
        client.alerts.change_state(acknowledged.id, "Acknowledged")
        firing = source.firing()
    finally:
        source.close()
    assert [a.name for a in firing] == ["Acknowledged on app-eastus"]  # acknowledged: still being worked on
    westus_app = info["resources"]["web_apps"]["westus"]
    narrow = alerts_of(sandbox, target_resource=westus_app, alert_rules=["Acknowledged", "Other"])
    try:
        assert narrow.firing() == []  # the alert is on the eastus app
        sandbox.fire_alert("Other", "Sev2", target_resource=westus_app)
        assert [a.name for a in narrow.firing()] == ["Other on app-westus"]
    finally:
        narrow.close()


def test_the_failed_rate_rule_fires_from_real_traffic_with_errors_and_not_from_healthy_traffic(
        sandbox: AzureSandbox) -> None:
    source = alerts_of(sandbox)
    try:
        assert set(requests(sandbox, "eastus", 200)) == {200}
        healthy = source.firing()
        sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 0.3})
        statuses = requests(sandbox, "eastus", 200)
        failing = source.firing()
        sandbox.faults.add({"kind": "error_rate", "region": "westus", "rate": 1.0})
        requests(sandbox, "westus", 40)
        down = source.firing()
    finally:
        source.close()
    assert healthy == []
    assert statuses.count(500) >= 30  # 30 % of 200, give or take
    assert [(a.name, a.severity, a.level) for a in failing] == [("FailedRequestRate on app-eastus", "Sev1", "sev1")]
    assert [(a.name, a.level) for a in down if a.level == "sev0"] == [("AppUnavailable on app-westus", "sev0")]
    described = {a["name"]: a["description"] for a in sandbox.alerts.summary() if a["monitor_condition"] == "Fired"}
    assert "over the last 5 minutes" in described["FailedRequestRate"]


def test_rules_resolve_when_their_condition_no_longer_holds() -> None:
    from odin_drills.sandbox.azure.alerts import AlertBook, RuleSettings
    from odin_drills.sandbox.azure.clock import ManualClock
    from odin_drills.sandbox.azure.log_analytics import RequestRecord, RequestTelemetry
    from odin_drills.sandbox.azure.topology import Topology

    clock = ManualClock()
    telemetry = RequestTelemetry(clock)
    down: set[str] = set()
    book = AlertBook(Topology.from_seed(1), telemetry, lambda r: r in down, clock, RuleSettings())
    for i in range(100):
        telemetry.add(RequestRecord(at=clock(), duration_ms=3, result_code=500 if i < 6 else 200, region="eastus",
                                    name="GET /"))
    assert [(a.name, a.monitor_condition) for a in book.all()] == [("FailedRequestRate", "Fired")]  # 6 % > 5 %
    clock.advance(301)  # the failing minute leaves the 5-minute window
    assert [(a.name, a.monitor_condition) for a in book.all()] == [("FailedRequestRate", "Resolved")]
    for _ in range(20):
        telemetry.add(RequestRecord(at=clock(), duration_ms=3, result_code=200, region="eastus", name="GET /"))
    down.add("westus")
    fired = [a for a in book.all() if a.monitor_condition == "Fired"]
    assert [(a.name, a.severity, a.target_resource_name) for a in fired] == [("AppUnavailable", "Sev0", "app-westus")]
    down.clear()
    assert all(a.monitor_condition == "Resolved" for a in book.all())


# ---------------------------------------------------------------------------------- unavailable

def test_an_api_that_does_not_answer_leaves_the_window_inconclusive(sandbox: AzureSandbox) -> None:
    sandbox.faults.add({"kind": "arm_error", "status": 503, "count": 10, "path_contains": "AlertsManagement"})
    clock = ScaledClock(scale=300)
    source = probed(sandbox, clock)
    try:
        window = source.measure(300)
    finally:
        source.close()
    said = window.signals.details["unavailable"]
    assert said.startswith(f"alerts unknown for this window (azure_monitor_alerts resource group {GROUP}: "
                           "HttpResponseError: "), said
    assert window.alerts is None
    baseline = window.model_copy(update={"signals": window.signals.model_copy(update={"details": {}}), "alerts": []})
    decision = evaluate(baseline, window, Policy())
    assert decision.decision == "inconclusive" and said in decision.reasons


def test_a_refused_connection_or_no_sandbox_is_unavailable_with_the_reason(sandbox: AzureSandbox) -> None:
    from odin_drills.steps.alerts import AlertSourceUnavailable
    from tests.http_servers import refusing_url

    with refusing_url() as dead:
        source = AzureMonitorAlertsSource(spec(timeout=2), target=target(sandbox, arm_url=dead.replace("http:", "https:")))
        try:
            with pytest.raises(AlertSourceUnavailable, match=r"ServiceRequestError"):
                source.firing()
        finally:
            source.close()
    nowhere = AzureMonitorAlertsSource(spec(), target=None)
    with pytest.raises(AlertSourceUnavailable, match=r"target: azure\.\* steps need the plan's target"):
        nowhere.firing()


# ---------------------------------------------------------------------------------- wiring

def test_the_plans_alerts_kind_picks_the_reader_and_counts_incidents(sandbox: AzureSandbox) -> None:
    from odin_drills.steps.people.incidents import alerts_started_since

    plan = SimpleNamespace(metrics=SyntheticProbe(url=sandbox.info()["regions"]["eastus"] + "/health"),
                           alerts=spec(), target=target(sandbox))
    opened = open_metric_source(plan, ScaledClock(scale=300))
    try:
        assert isinstance(opened, AlertedSource) and isinstance(opened.alerts, AzureMonitorAlertsSource)
    finally:
        opened.close()
    since = datetime.now(timezone.utc)
    sandbox.fire_alert("Fired", "Sev1")
    sandbox.fire_alert("Gone", "Sev2")
    sandbox.resolve_alert("Gone")
    found, why = alerts_started_since(spec(), since, target=target(sandbox))
    assert why is None
    assert sorted((a["name"], a["level"], a["state"]) for a in found) == [
        ("Fired on app-eastus", "sev1", "Fired/New"), ("Gone on app-eastus", "lower", "Resolved/New")]


def test_the_admin_api_fires_lists_and_resolves_alerts(sandbox: AzureSandbox) -> None:
    admin = sandbox.info()["admin_url"]
    source = alerts_of(sandbox)
    try:
        with httpx.Client(base_url=admin, timeout=10, trust_env=False) as client:
            fired = client.post("/alerts", json={"name": "HighErrorRate", "severity": "Sev1"})
            assert fired.status_code == 201, fired.text
            assert client.post("/alerts", json={"name": "X", "severity": "Sev9"}).status_code == 400
            assert client.post("/alerts", json={"name": "X", "colour": "red"}).status_code == 400
            assert [a["name"] for a in client.get("/alerts").json()] == ["HighErrorRate"]
            assert [a.name for a in source.firing()] == ["HighErrorRate on app-eastus"]
            assert client.post(f"/alerts/{fired.json()['id']}/resolve").json() == {"resolved": 1}
            assert client.post("/alerts/no-such-alert/resolve").status_code == 404
            assert client.get("/alerts").json()[0]["monitor_condition"] == "Resolved"
        assert source.firing() == []
    finally:
        source.close()


# ---------------------------------------------------------------------------------- the plan

def plan_file(tmp_path: Path, **changes: object) -> Path:
    data = json.loads(json.dumps(GOOD))
    data.update(changes)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_plan_validation_is_one_line_per_field(tmp_path: Path) -> None:
    good = plan_file(tmp_path, target={"kind": "sandbox"},
                     alerts={"kind": "azure_monitor_alerts", "target_resource_group": GROUP,
                             "target_resource_type": "Microsoft.Web/sites", "alert_rules": ["FailedRequestRate"],
                             "security": {"monitor_services": ["ActivityLog Security"]}})
    assert run_odin(["validate", str(good)]).returncode == 0
    path = plan_file(tmp_path, target={"kind": "sandbox"}, alerts={
        "kind": "azure_monitor_alerts", "subscription_id": "not-a-guid", "target_resource_group": "rg with spaces",
        "target_resource_type": "web sites", "alert_rules": ["a/b"], "security": {"rules": ["x"]}, "url": "x"})
    result = run_odin(["validate", str(path)])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"odin: error: {path}: ") for line in lines), lines
    fields = sorted(line.split(": ")[3] for line in lines)
    assert fields == ["alerts.alert_rules[0]", "alerts.security.rules", "alerts.subscription_id",
                      "alerts.target_resource_group", "alerts.target_resource_type", "alerts.url"], lines
    outside = plan_file(tmp_path, alerts={
        "kind": "azure_monitor_alerts", "target_resource_group": GROUP,
        "target_resource": "/subscriptions/x/resourceGroups/rg-other/providers/Microsoft.Web/sites/app"})
    lines = run_odin(["validate", str(outside)]).stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"odin: error: {outside}: alerts.target_resource: "), lines
    assert "resource group 'rg-other', not target_resource_group 'rg-odin-drills'" in lines[0]
    local = plan_file(tmp_path, alerts={"kind": "azure_monitor_alerts", "target_resource_group": GROUP})
    lines = run_odin(["validate", str(local)]).stderr.strip().splitlines()
    assert lines == [f"odin: error: {local}: alerts.subscription_id: required unless the target is azure or the "
                     "sandbox"], lines


# ---------------------------------------------------------------------------------- the contract

def test_the_sandboxs_answer_has_the_shape_of_microsofts_example_and_parses_with_the_sdk_model(
        sandbox: AzureSandbox) -> None:
    from azure.mgmt.alertsmanagement.models import AlertsList

    info = sandbox.info()
    example = json.loads(EXAMPLE.read_text())
    documented = example["responses"]["200"]["body"]
    for index in range(3):
        sandbox.fire_alert(f"Rule{index}", f"Sev{index + 1}")
    sandbox.resolve_alert("Rule2")
    with httpx.Client(base_url=info["arm_url"], verify=ssl.create_default_context(cafile=info["ca_cert"]), trust_env=False, timeout=10,
                      headers={"Authorization": "Bearer contract-test"}) as client:
        response = client.get(f"/subscriptions/{info['subscription_id']}/providers/Microsoft.AlertsManagement/alerts",
                              params={"api-version": example["parameters"]["api-version"], "pageCount": 2})
        assert response.status_code == 200, response.text
        ours = response.json()
        following = client.get(ours["nextLink"])
    assert set(ours) == set(documented) and len(ours["value"]) == 2
    last = following.json()
    assert following.status_code == 200 and "nextLink" not in last and len(last["value"]) == 1
    theirs = documented["value"][0]
    for alert in ours["value"] + last["value"]:
        assert set(alert) == set(theirs)
        assert set(alert["properties"]) == set(theirs["properties"])
        essentials, documented_essentials = alert["properties"]["essentials"], theirs["properties"]["essentials"]
        optional = {"smartGroupId", "smartGroupingReason", "monitorConditionResolvedDateTime"}
        assert set(documented_essentials) - optional <= set(essentials) <= set(documented_essentials)
        for key, value in essentials.items():
            assert type(value) is type(documented_essentials[key]), key
    parsed_theirs, parsed_ours = AlertsList.deserialize(documented), AlertsList.deserialize({**ours})
    for model in parsed_theirs.value + parsed_ours.value:
        essentials = model.properties.essentials
        assert essentials.severity in {"Sev0", "Sev1", "Sev2", "Sev3", "Sev4"}
        assert essentials.monitor_condition in {"Fired", "Resolved"} and essentials.alert_state in {"New", "Acknowledged"}
        assert isinstance(essentials.start_date_time, datetime) and essentials.target_resource_group
    resolved = [a for a in AlertsList.deserialize(last).value + parsed_ours.value
                if a.properties.essentials.monitor_condition == "Resolved"]
    assert [a.name for a in resolved] == ["Rule2"] and resolved[0].properties.essentials.monitor_condition_resolved_date_time
