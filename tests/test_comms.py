"""Stakeholder comms: the promises the failover runbook makes to the people waiting on it.

Every delivery test goes over real HTTP to a local webhook receiver on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from odin_drills.steps.clock import ManualClock, ScaledClock
from odin_drills.steps.comms import (
    Channel,
    CommsSchedule,
    IncidentState,
    RetryPolicy,
    deliver,
    payload,
    render,
)
from odin_drills.steps.comms.payloads import ADAPTIVE_CARD
from odin_drills.steps.journal import Journal
from tests.webhook_receiver import Received, Reply, WebhookReceiver, refused_url

UTC = timezone.utc
T0 = datetime(2026, 1, 1, 14, 0, tzinfo=UTC)
SECRET_PATH = "/services/T0ODIN/B0DRILL/s3cr3tWebhookToken"
FAST = RetryPolicy(attempts=3, backoff=0.05, max_delay=1.0)


def incident(**changes: Any) -> IncidentState:
    base: dict[str, Any] = {
        "title": "Payments API region failover",
        "status": "investigating",
        "impact": "EU checkout errors for about 30% of requests",
        "next_step": "Failing the SQL failover group over to westeurope",
        "started_at": T0,
        "region_primary": "northeurope",
        "region_dr": "westeurope",
    }
    return IncidentState(**{**base, **changes})


class LiveState:
    """The runbook's view of the incident, changed as the drill goes on."""

    def __init__(self, state: IncidentState) -> None:
        self._state = state
        self._lock = threading.Lock()

    def update(self, **changes: Any) -> None:
        with self._lock:
            self._state = self._state.model_copy(update=changes)

    def get(self) -> IncidentState:
        with self._lock:
            return self._state


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith(("odin-comms", "webhook receiver"))]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as shared:
        yield shared


def journal_at(tmp_path: Path, clock: Any) -> Journal:
    return Journal(tmp_path / "journal.jsonl", clock)


def assert_no_webhook_urls(journal: Journal, *urls: str) -> None:
    written = journal.path.read_text(encoding="utf-8")
    for url in urls:
        assert url not in written
    assert "s3cr3tWebhookToken" not in written


def field(received: Received, label: str) -> str:
    return received.body["fields"][label]


# -- the cadence -----------------------------------------------------------------------------


def test_updates_arrive_at_T0_T15_T60_T90_of_plan_time_filled_from_the_state_at_that_moment(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    scale = 1200  # T+15 = 0.75 s, T+60 = 3 s, T+90 = 4.5 s of wall time
    clock = ScaledClock(scale=scale)
    journal = journal_at(tmp_path, clock)
    live = LiveState(incident(started_at=clock.now()))
    channels = [
        Channel(name="status-feed", kind="generic", url=receiver.url("/generic" + SECRET_PATH)),
        Channel(name="sre-slack", kind="slack", url=receiver.url("/slack" + SECRET_PATH)),
    ]
    schedule = CommsSchedule(channels, clock, journal, live.get, retry=FAST)
    started = time.monotonic()
    schedule.start()
    try:
        for seen, status in enumerate(["failing over", "validating", "monitoring"], start=1):
            receiver.wait_for(seen, "/generic" + SECRET_PATH)
            live.update(status=status, progress=f"{seen} of 3 steps done", eta="T+120")
        messages = receiver.wait_for(4, "/generic" + SECRET_PATH)
        slack = receiver.wait_for(4, "/slack" + SECRET_PATH)
    finally:
        schedule.stop()

    assert [(m.body["template"], m.body["minute"]) for m in messages] == [
        ("initial", 0), ("update", 15), ("update", 60), ("update", 90)
    ]
    for message, minute in zip(messages, (0, 15, 60, 90)):
        due = minute * 60 / scale
        assert due - 0.01 <= message.at - started <= due + 1.5, f"T+{minute} arrived at {message.at - started:.2f}s"
    assert [field(m, "Status") for m in messages] == ["investigating", "failing over", "validating", "monitoring"]
    assert field(messages[0], "Next update").startswith("T+15 (")
    assert field(messages[1], "Progress") == "1 of 3 steps done"
    assert field(messages[3], "Next update").startswith("at resolution")
    assert "Status:* monitoring" in slack[3].body["blocks"][1]["text"]["text"]

    entries = journal.entries("comms")
    assert len(entries) == 8  # one per message per channel
    assert {e.data["channel"] for e in entries} == {"status-feed", "sre-slack"}
    for entry in entries:
        assert entry.data["status"] == "sent" and entry.data["http_status"] == 200 and entry.data["attempts"] == 1
        assert entry.data["template"] in ("initial", "update") and entry.data["minute"] in (0, 15, 60, 90)
        assert entry.data["text"].splitlines()[0]
    assert_no_webhook_urls(journal, *(str(c.url) for c in channels))


def test_resolution_goes_out_at_once_and_cancels_the_pending_updates(receiver: WebhookReceiver, tmp_path: Path) -> None:
    scale = 1800  # T+90 = 3 s of wall time
    clock = ScaledClock(scale=scale)
    journal = journal_at(tmp_path, clock)
    live = LiveState(incident(started_at=clock.now()))
    schedule = CommsSchedule([Channel(name="feed", kind="generic", url=receiver.url())], clock, journal, live.get)
    started = time.monotonic()
    schedule.start()
    try:
        receiver.wait_for(1)
        results = schedule.resolve(incident(started_at=live.get().started_at, status="resolved",
                                            summary="Traffic served from westeurope", details={"rto_seconds": 1}))
        assert not schedule.running
        time.sleep(max(0.0, started + 90 * 60 / scale + 0.3 - time.monotonic()))  # past when T+90 was due
    finally:
        schedule.stop()

    assert [r.status for r in results] == ["sent"]
    got = receiver.received()
    assert got[0].body["template"] == "initial" and got[-1].body["template"] == "resolution"
    assert field(got[-1], "Summary") == "Traffic served from westeurope"
    late_updates = [r.body["minute"] for r in got if r.body["template"] == "update"]
    assert set(late_updates) <= {15}, "an update arrived after the resolution"
    notes = [e.data["message"] for e in journal.entries("note")]
    assert any("updates cancelled" in n and "T+60" in n and "T+90" in n for n in notes)


def test_messages_say_when_the_next_update_comes_in_plan_time(receiver: WebhookReceiver, tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    journal = journal_at(tmp_path, clock)
    schedule = CommsSchedule([Channel(name="feed", kind="generic", url=receiver.url())], clock, journal,
                             lambda: incident(status="failing over"))
    schedule.start()
    try:
        updates = receiver.wait_for(4)
        schedule.resolve()
    finally:
        schedule.stop()
    assert [field(m, "Next update") for m in updates] == [
        "T+15 (14:15 UTC)", "T+60 (15:00 UTC)", "T+90 (15:30 UTC)", "at resolution, or sooner if the status changes"
    ]
    resolution = receiver.received()[-1]
    assert resolution.body["template"] == "resolution" and resolution.body["minute"] == 90
    assert field(resolution, "Duration") == "1h 30m (2026-01-01 14:00 UTC → 15:30 UTC)"


def test_a_late_start_sends_the_initial_now_and_skips_updates_already_overdue(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    clock = ManualClock(start=T0 + timedelta(minutes=20))
    journal = journal_at(tmp_path, clock)
    schedule = CommsSchedule([Channel(name="feed", kind="generic", url=receiver.url())], clock, journal, incident)
    schedule.start(origin=T0)
    try:
        got = receiver.wait_for(3)
    finally:
        schedule.stop()
    assert [(m.body["template"], m.body["minute"]) for m in got] == [("initial", 0), ("update", 60), ("update", 90)]
    assert field(got[0], "Next update") == "T+60 (15:00 UTC)"


def test_a_state_that_cannot_be_read_is_recorded_and_the_cadence_goes_on(receiver: WebhookReceiver, tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    journal = journal_at(tmp_path, clock)
    calls = []

    def flaky_state() -> IncidentState:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("state store unreachable")
        return incident()

    schedule = CommsSchedule([Channel(name="feed", kind="generic", url=receiver.url())], clock, journal, flaky_state)
    schedule.start()
    try:
        got = receiver.wait_for(3)
    finally:
        schedule.stop()
    assert [m.body["minute"] for m in got] == [15, 60, 90]
    (failed,) = [e.data for e in journal.entries("comms") if e.data["status"] == "failed"]
    assert (failed["template"], failed["minute"], failed["attempts"]) == ("initial", 0, 0)
    assert "state store unreachable" in failed["detail"]


def test_a_dead_webhook_neither_delays_nor_stops_the_other_channels(receiver: WebhookReceiver, tmp_path: Path) -> None:
    clock = ScaledClock(scale=1800)  # T+15 = 0.5 s
    journal = journal_at(tmp_path, clock)
    with refused_url(SECRET_PATH) as dead:
        channels = [
            Channel(name="dead-teams", kind="teams", url=dead),
            Channel(name="feed", kind="generic", url=receiver.url()),
        ]
        slow_retries = RetryPolicy(attempts=3, backoff=3.0, max_delay=10.0)  # the dead one retries for 9 s
        schedule = CommsSchedule(channels, clock, journal, incident, minutes=(0, 15), retry=slow_retries)
        started = time.monotonic()
        schedule.start()
        try:
            got = receiver.wait_for(2)
        finally:
            schedule.stop()
        assert got[1].at - started < 0.5 + 2.0  # not held behind the dead channel's retries
        assert time.monotonic() - started < 5.0  # stop() cut the dead channel's retries short
        by_channel = {(r.channel, r.template): r for r in schedule.results}
        assert by_channel[("feed", "update")].sent
        assert by_channel[("dead-teams", "initial")].status == "failed"
        assert by_channel[("dead-teams", "initial")].http_status is None
        assert_no_webhook_urls(journal, dead, str(channels[1].url))


def test_resolve_before_start_still_sends_the_resolution_and_the_schedule_cannot_restart(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    clock = ManualClock(start=T0 + timedelta(minutes=42))
    schedule = CommsSchedule([Channel(name="feed", kind="generic", url=receiver.url())], clock,
                             journal_at(tmp_path, clock), incident)
    results = schedule.resolve(incident(status="resolved"))
    assert [r.status for r in results] == ["sent"]
    assert schedule.resolve() == results  # a second resolve sends nothing more
    assert len(receiver.received()) == 1
    with pytest.raises(RuntimeError):
        schedule.start()


# -- templates -------------------------------------------------------------------------------


def test_the_resolution_gives_duration_impact_rto_rpo_and_follow_ups() -> None:
    state = incident(
        status="resolved",
        summary="Failed over to westeurope; primary stays fenced",
        details={"rto_seconds": 252, "rto_target": 900, "rpo_seconds": 3.2, "rpo_target_seconds": 1},
        follow_ups=["postmortem on Thursday", "raise SQL geo-replication alert"],
        resolved_at=T0 + timedelta(minutes=83),
    )
    message = render("resolution", state)
    assert message.headline == "Resolved: Payments API region failover"
    assert message.fields["Duration"] == "1h 23m (2026-01-01 14:00 UTC → 15:23 UTC)"
    assert message.fields["RTO"] == "4m 12s (target 15m, met)"
    assert message.fields["RPO"] == "3.2s (target 1s, missed)"
    assert message.fields["Follow-ups"] == "postmortem on Thursday; raise SQL geo-replication alert"
    assert message.fields["Impact"] in message.text


def test_the_initial_notification_says_what_happened_impact_what_we_do_and_when_we_update() -> None:
    message = render("initial", incident(summary="Health probes failing in northeurope since 13:52"), 0)
    assert message.template == "initial" and message.minute == 0
    assert message.fields["What happened"] == "Health probes failing in northeurope since 13:52"
    assert message.fields["What we are doing"].startswith("Failing the SQL failover group")
    assert message.fields["Next update"] == "T+15 (14:15 UTC)"
    assert "ETA" not in message.fields  # not known yet: not shown


def test_messages_never_carry_secrets_from_the_state() -> None:
    leaky = incident(impact="replica DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0a2V5;")
    message = render("update", leaky, 15)
    assert "c2VjcmV0a2V5" not in message.text and "AccountKey=***" in message.fields["Impact"]


# -- payloads, over the wire -----------------------------------------------------------------


def test_slack_gets_text_and_blocks(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    message = render("update", incident(status="failing over", title="<payments> & ledger"), 15)
    channel = Channel(name="sre-slack", kind="slack", url=receiver.url())
    result = deliver(channel, message, client, journal_at(tmp_path, ManualClock()))
    body = receiver.wait_for(1)[0].body
    assert result.sent
    assert body == payload("slack", message)
    assert body["text"].startswith("Update T+15: &lt;payments&gt; &amp; ledger")
    header, section, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": message.headline, "emoji": True}}
    assert section["text"]["type"] == "mrkdwn" and "*Status:* failing over" in section["text"]["text"]
    assert context["type"] == "context" and "T+15" in context["elements"][0]["text"]


def test_teams_gets_an_adaptive_card_with_the_facts(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    message = render("update", incident(status="validating", eta="15:10 UTC"), 60)
    channel = Channel(name="ops-teams", kind="teams", url=receiver.url())
    result = deliver(channel, message, client, journal_at(tmp_path, ManualClock()))
    received = receiver.wait_for(1)[0]
    assert result.sent and received.headers["content-type"] == "application/json"
    body = received.body
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == message.headline
    facts = next(item for item in card["body"] if item["type"] == "FactSet")["facts"]
    assert facts == [{"title": label, "value": value} for label, value in message.fields.items()]
    assert {"title": "ETA", "value": "15:10 UTC"} in facts and {"title": "Status", "value": "validating"} in facts


def test_generic_gets_the_message_as_json(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    message = render("initial", incident(), 0)
    deliver(Channel(name="feed", kind="generic", url=receiver.url()), message, client, journal_at(tmp_path, ManualClock()))
    body = receiver.wait_for(1)[0].body
    assert body == {"source": "odin-drills", "template": "initial", "minute": 0, "headline": message.headline,
                    "text": message.text, "fields": message.fields}


# -- delivery: retries and failures ----------------------------------------------------------


def test_a_500_then_200_is_retried_and_sent(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    receiver.reply(SECRET_PATH, Reply(500, "upstream down"))
    journal = journal_at(tmp_path, ManualClock())
    channel = Channel(name="sre-slack", kind="slack", url=receiver.url(SECRET_PATH))
    result = deliver(channel, render("initial", incident(), 0), client, journal, retry=FAST)
    assert (result.status, result.http_status, result.attempts) == ("sent", 200, 2)
    assert len(receiver.received()) == 2
    (entry,) = journal.entries("comms")
    assert entry.data["channel"] == "sre-slack" and entry.data["channel_kind"] == "slack"
    assert (entry.data["status"], entry.data["attempts"], entry.data["http_status"]) == ("sent", 2, 200)
    assert_no_webhook_urls(journal, str(channel.url))


def test_429_waits_as_long_as_retry_after_asks(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    receiver.reply("/hook", Reply(429, "rate_limited", {"Retry-After": "1"}))
    channel = Channel(name="sre-slack", kind="slack", url=receiver.url())
    patient = RetryPolicy(attempts=3, backoff=0.05, max_delay=5.0)
    result = deliver(channel, render("initial", incident(), 0), client, journal_at(tmp_path, ManualClock()), retry=patient)
    first, second = receiver.wait_for(2)
    assert result.sent and result.attempts == 2
    assert second.at - first.at >= 0.95


def test_retry_after_is_capped(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    receiver.reply("/hook", Reply(429, "", {"Retry-After": "3600"}), Reply(503, "", {"Retry-After": "3600"}))
    channel = Channel(name="feed", kind="generic", url=receiver.url())
    started = time.monotonic()
    result = deliver(channel, render("initial", incident(), 0), client, journal_at(tmp_path, ManualClock()),
                     retry=RetryPolicy(attempts=3, max_delay=0.2))
    assert result.sent and result.attempts == 3
    assert time.monotonic() - started < 3.0


def test_a_4xx_is_not_retried(receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path) -> None:
    receiver.reply("/hook", Reply(404, "no_service"))
    channel = Channel(name="sre-slack", kind="slack", url=receiver.url())
    result = deliver(channel, render("initial", incident(), 0), client, journal_at(tmp_path, ManualClock()), retry=FAST)
    assert (result.status, result.http_status, result.attempts) == ("failed", 404, 1)
    assert "no_service" in result.detail
    assert len(receiver.received()) == 1


def test_teams_200_carrying_a_delivery_failure_is_a_failure_and_retried(
    receiver: WebhookReceiver, client: httpx.Client, tmp_path: Path
) -> None:
    receiver.reply("/hook", Reply(200, "Webhook message delivery failed with error: Microsoft Teams endpoint "
                                       "returned HTTP error 429 with ContextId tcid=0"), Reply(200, "1"))
    channel = Channel(name="ops-teams", kind="teams", url=receiver.url())
    result = deliver(channel, render("initial", incident(), 0), client, journal_at(tmp_path, ManualClock()), retry=FAST)
    assert (result.status, result.attempts) == ("sent", 2)


def test_a_dead_webhook_is_recorded_as_failed_and_does_not_raise(client: httpx.Client, tmp_path: Path) -> None:
    journal = journal_at(tmp_path, ManualClock())
    with refused_url(SECRET_PATH) as dead:
        channel = Channel(name="sre-slack", kind="slack", url=dead)
        result = deliver(channel, render("initial", incident(), 0), client, journal, retry=FAST)
    assert (result.status, result.http_status, result.attempts) == ("failed", None, 3)
    assert result.detail == "ConnectError"
    (entry,) = journal.entries("comms")
    assert entry.data["status"] == "failed" and entry.data["channel"] == "sre-slack"
    assert_no_webhook_urls(journal, dead)


def test_a_channel_never_shows_its_url() -> None:
    channel = Channel(name="sre-slack", kind="slack", url="https://hooks.slack.com" + SECRET_PATH)
    assert "s3cr3t" not in repr(channel) and "s3cr3t" not in str(channel)
