"""The canary measures data loss: exactly the acknowledged writes the new primary does not have."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.clock import ManualClock, ScaledClock
from odin_drills.steps.dr.canary import CanaryWriter, ReadBack, sha256_of
from odin_drills.steps.journal import Journal
from tests.dr.conftest import fail_over, wait_until

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_forced_failover_loses_exactly_the_writes_the_sandbox_says_were_lost(
        start_sandbox: Callable[..., AzureSandbox], tmp_path: Path) -> None:
    sandbox = start_sandbox(replication_lag_seconds=30.0)
    info = sandbox.info()
    clock = ScaledClock(10)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    with CanaryWriter(info["frontdoor_url"] + "/api/orders", clock, rate_per_second=20, journal=journal) as canary:
        wait_until(lambda: len(canary.acknowledged()) >= 10)
        sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
        outage_injected = clock.now()
        time.sleep(0.4)  # writes through Front Door fail now: not acknowledged, so not losses
        failover_at = clock.now()
        fail_over(sandbox, forced=True)
        acked_before = len(canary.acknowledged())
        wait_until(lambda: len(canary.acknowledged()) >= acked_before + 5)  # westus takes writes again
    result = canary.verify(info["regions"]["westus"], failover_at=failover_at)

    truth = sandbox.writes()
    lost_in_sandbox = {w["id"] for w in truth if not w["survives"]}
    assert lost_in_sandbox and set(result.lost_ids) == lost_in_sandbox
    assert result.acknowledged == len(truth) and not result.corrupted and not result.unreadable
    assert result.verified == result.acknowledged - len(result.lost) >= 5
    assert result.failed_writes >= 1 and sum(result.failures_by_reason.values()) == result.failed_writes
    assert result.failed_writes == result.attempted - result.acknowledged
    assert all(w.sent_at < outage_injected for w in result.lost)  # the region was down after that
    assert result.oldest_lost_ack and result.newest_ack_before_failover and result.newest_surviving_ack
    assert result.oldest_lost_ack <= result.newest_ack_before_failover < failover_at < result.newest_surviving_ack
    assert result.lost_span_seconds == (result.newest_ack_before_failover - result.oldest_lost_ack).total_seconds()
    [verified] = journal.entries("canary_verified")
    assert verified.data["lost"] == len(lost_in_sandbox)
    states = [e.data["state"] for e in journal.entries("canary_state")]
    assert states == ["acknowledging", "failing", "acknowledging"]  # changes only, not every write


def test_a_planned_failover_loses_nothing(start_sandbox: Callable[..., AzureSandbox]) -> None:
    sandbox = start_sandbox(replication_lag_seconds=0.5)
    info = sandbox.info()
    clock = ScaledClock(10)
    with CanaryWriter(info["frontdoor_url"] + "/api/orders", clock, rate_per_second=20) as canary:
        wait_until(lambda: len(canary.acknowledged()) >= 10)
        fail_over(sandbox, forced=False)
        failover_at = clock.now()
        acked_before = len(canary.acknowledged())
        wait_until(lambda: len(canary.acknowledged()) >= acked_before + 5)
    result = canary.verify(info["regions"]["westus"], failover_at=failover_at)
    assert all(w["survives"] for w in sandbox.writes())
    assert result.lost == [] and result.corrupted == [] and result.unreadable == []
    assert result.verified == result.acknowledged >= 15
    assert result.lost_span_seconds == 0.0


class FakeService:
    """Orders in memory behind a MockTransport; tests tamper with what reads return."""

    def __init__(self) -> None:
        self.orders: dict[str, object] = {}
        self.refuse_writes = False
        self.unreadable: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            if self.refuse_writes:
                return httpx.Response(503, json={"error": "DatabaseUnavailable"})
            order_id = f"o{len(self.orders)}"
            self.orders[order_id] = json.loads(request.content)
            return httpx.Response(201, json={"id": order_id, "acknowledged_at": "now"})
        order_id = request.url.path.rsplit("/", 1)[-1]
        if order_id in self.unreadable:
            return httpx.Response(503, json={"error": "DatabaseUnavailable"})
        if order_id not in self.orders:
            return httpx.Response(404, json={"error": "NotFound"})
        return httpx.Response(200, json={"id": order_id, "order": self.orders[order_id]})


def test_reads_sort_writes_into_verified_lost_corrupted_and_unreadable() -> None:
    service = FakeService()
    clock = ManualClock(START)
    client = httpx.Client(transport=httpx.MockTransport(service.handle))
    canary = CanaryWriter("http://service.test/api/orders", clock, client=client)
    for _ in range(5):
        clock.advance(1)
        assert canary.write_once() is not None  # o0..o4 acknowledged at 1..5 s
    service.refuse_writes = True
    clock.advance(1)
    assert canary.write_once() is None  # refused: a failed write, never a loss
    failover_at = clock.now()
    service.refuse_writes = False
    clock.advance(1)
    canary.write_once()  # o5, after the failover
    del service.orders["o1"], service.orders["o3"]
    service.orders["o2"] = {"tampered": True}
    service.unreadable.add("o4")

    result = canary.verify("http://service.test", failover_at=failover_at)
    assert (result.attempted, result.acknowledged, result.failed_writes) == (7, 6, 1)
    assert result.failures_by_reason == {"HTTP 503 DatabaseUnavailable": 1}
    assert result.lost_ids == ["o1", "o3"]
    assert [w.write_id for w in result.corrupted] == ["o2"]
    assert [w.write_id for w in result.unreadable] == ["o4"]
    assert result.verified == 2  # o0 and o5
    assert result.oldest_lost_ack == START + timedelta(seconds=2)
    assert result.newest_ack_before_failover == START + timedelta(seconds=5)
    assert result.newest_surviving_ack == START + timedelta(seconds=7)
    assert result.lost_span_seconds == 3.0
    client.close()


def test_a_custom_reader_compares_payload_hashes() -> None:
    service = FakeService()
    clock = ManualClock(START)
    with httpx.Client(transport=httpx.MockTransport(service.handle)) as client:
        canary = CanaryWriter("http://service.test/api/orders", clock, client=client, payload_bytes=32)
        write = canary.write_once()
    assert write is not None and write.sha256 == sha256_of(service.orders["o0"])
    assert len(service.orders["o0"]["data"]) == 32  # type: ignore[index]
    same = canary.verify(lambda write_id: ReadBack(found=True, payload=service.orders[write_id]))
    assert same.verified == 1 and not same.corrupted
    changed = canary.verify(lambda write_id: ReadBack(found=True, payload={**service.orders[write_id], "seq": 9}))  # type: ignore[dict-item]
    assert len(changed.corrupted) == 1 and changed.verified == 0


def test_nothing_acknowledged_means_data_loss_was_not_measured() -> None:
    service = FakeService()
    service.refuse_writes = True
    with httpx.Client(transport=httpx.MockTransport(service.handle)) as client:
        canary = CanaryWriter("http://service.test/api/orders", ManualClock(START), client=client)
        canary.write_once()
        result = canary.verify("http://service.test")
    assert result.acknowledged == 0 and result.failed_writes == 1
    assert result.lost_span_seconds is None
