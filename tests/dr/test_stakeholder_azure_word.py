"""Incident mode's stakeholder messages quote Azure's own word on the outage (issue 12): the Service
Health event (title, tracking id), full or partial outage, and Azure's ETA — or that Azure gave none,
or that Service Health could not be reached — from the run's latest reading when each message is
rendered. Never an ETA of ours. The end-to-end check is ``tests/test_incident_failover.py``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from odin_drills.plan.drill import parse_drill
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.comms import render
from odin_drills.steps.dr.run import Findings, Moments
from odin_drills.steps.dr.service_health import HealthReading, stakeholder_line
from odin_drills.steps.dr.stakeholders import Stakeholders

START = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
TITLE = "Multiple services in East US"


def reading(eta_minutes: float | None = None, **extent: list[str]) -> HealthReading:
    return HealthReading(region="eastus", reachable=True, event_id="SB_1-EAST", title=TITLE, impact_started_at=START,
                         resolution_eta=START + timedelta(minutes=eta_minutes) if eta_minutes is not None else None,
                         **extent)


def incident_run(scale: float = 1.0) -> SimpleNamespace:
    plan = parse_drill({"name": "azure-word", "environment": "azure-word-env",
                        "regions": {"primary": "eastus", "secondary": "westus"}, "decision": {"mode": "incident"}})
    moments = Moments(outage_started_at=START)
    return SimpleNamespace(plan=plan, title="azure-word", primary="eastus", secondary="westus", mode="incident",
                           clock=ManualClock(START + timedelta(minutes=15), scale=scale), moments=moments,
                           found=Findings())


def azure_line(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Azure Service Health:")]


def test_the_line_names_the_event_the_extent_and_azures_eta() -> None:
    full = reading(70, unavailable=["sql-eastus", "app-eastus"])
    assert stakeholder_line(full) == (f"{TITLE} (tracking id SB_1-EAST); full region outage; Azure's ETA 11:10 UTC "
                                      "(1h 10m after it began)")
    partial = reading(None, unavailable=["app-eastus"], available=["sql-eastus"])
    assert stakeholder_line(partial) == f"{TITLE} (tracking id SB_1-EAST); partial outage; no ETA given by Azure"


def test_an_eta_on_another_day_carries_its_date_and_a_rehearsal_counts_plan_time() -> None:
    late = reading(15 * 60, unavailable=["a"])  # 01:00 the next day
    assert "Azure's ETA 2026-12-02 01:00 UTC (15h after it began)" in stakeholder_line(late)
    assert stakeholder_line(reading(10, unavailable=["a"]), scale=60.0).endswith("Azure's ETA 10:10 UTC "
                                                                                  "(10h after it began)")


def test_an_unreachable_service_health_or_no_event_is_said_never_guessed() -> None:
    down = HealthReading(region="eastus", reachable=False, error="HttpResponseError (HTTP 503): unavailable")
    assert stakeholder_line(down) == ("unreachable (HttpResponseError (HTTP 503): unavailable): what Azure says of "
                                      "the outage and its ETA is not known")
    quiet = HealthReading(region="eastus", reachable=True, available=["sql-eastus"])
    assert stakeholder_line(quiet) == ("no active service issue reported for eastus; no resource unavailable; "
                                       "no ETA given by Azure")


def test_each_message_quotes_the_latest_reading_when_it_is_rendered() -> None:
    run = incident_run()
    people = Stakeholders(run)  # type: ignore[arg-type]
    assert azure_line(render("initial", people.state(), 0).text) == []  # no reading yet: no line
    run.found.service_health = reading(20, unavailable=["a"])
    first = render("update", people.state(), 15)
    assert azure_line(first.text) == [f"Azure Service Health: {TITLE} (tracking id SB_1-EAST); full region outage; "
                                      "Azure's ETA 10:20 UTC (20m after it began)"]
    assert first.fields["ETA"] == "not yet known"  # our own ETA is not made up from Azure's
    run.found.service_health = reading(None, unavailable=["a"])  # Azure withdrew its ETA
    second = render("update", people.state(), 60)
    assert azure_line(second.text)[0].endswith("full region outage; no ETA given by Azure")
    run.found.service_health = HealthReading(region="eastus", reachable=False, error="ConnectError: refused")
    people.update("resolved")
    last = render("resolution", people.state(), None, now=START + timedelta(hours=1))
    assert azure_line(last.text) == ["Azure Service Health: unreachable (ConnectError: refused): what Azure says of "
                                     "the outage and its ETA is not known"]


def test_a_drill_that_made_no_reading_sends_no_such_line() -> None:
    run = incident_run()
    run.mode = "drill"
    for template, minute in (("initial", 0), ("update", 15), ("resolution", None)):
        message = render(template, Stakeholders(run).state(), minute, now=START + timedelta(hours=1))  # type: ignore[arg-type]
        assert "Azure Service Health" not in message.text and "Azure Service Health" not in message.fields
