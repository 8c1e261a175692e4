"""The world's rules on a manual clock: exact replication lag, RPO and operation timing, no servers."""

from __future__ import annotations

import threading

import pytest

from odin_drills.sandbox.azure.clock import ManualClock, iso
from odin_drills.sandbox.azure.errors import ArmError, DataPlaneUnavailable
from odin_drills.sandbox.azure.faults import FaultRegistry
from odin_drills.sandbox.azure.replication import GeoReplica, Record
from odin_drills.sandbox.azure.topology import Topology
from odin_drills.sandbox.azure.world import FORCED, PLANNED, TRY_PLANNED, World

LAG = 2.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock) -> World:
    lock = threading.RLock()
    faults = FaultRegistry(lock, clock)
    world = World(topology=Topology.from_seed(3), clock=clock, lock=lock, faults=faults,
                  app_endpoints={"eastus": ("127.0.0.1", 1), "westus": ("127.0.0.1", 2)},
                  replication_lag_seconds=LAG, storage_lag_seconds=5.0, seed=3)
    faults.on_change(around=world.advance)
    return world


def survivors(world: World) -> dict[str, bool]:
    return {w["key"]: w["survives"] for w in world.writes_report()}


def test_the_secondary_trails_the_primary_by_exactly_the_lag():
    replica = GeoReplica("a", "b", lag=2.0, now=0.0)
    replica.write(Record("k1", "w1", at=1.0))
    replica.advance(2.9, link_up=True)
    assert replica.pending == 1 and replica.synced_through == pytest.approx(0.9)
    replica.advance(3.01, link_up=True)
    assert replica.pending == 0 and "w1" in replica.copies["b"].write_ids


def test_replication_stops_at_the_moment_of_an_outage_and_resumes_after(world: World, clock: ManualClock):
    world.write_order("eastus", b"{}")          # t=0
    clock.advance(1.0)
    world.write_order("eastus", b"{}")          # t=1
    clock.advance(1.5)                          # t=2.5: the first is replicated, the second not
    world.faults.add({"kind": "region_outage", "region": "westus"})
    clock.advance(10)
    assert world.snapshot()["failover_groups"]["odin-fg"]["pending_writes"] == 1
    world.faults.clear()
    world.advance()
    assert world.snapshot()["failover_groups"]["odin-fg"]["pending_writes"] == 0


def test_forced_failover_loses_what_was_acknowledged_after_the_watermark(world: World, clock: ManualClock):
    keys = []
    for _ in range(5):                          # writes at t = 0, 1, 2, 3, 4
        keys.append(world.write_order("eastus", b"{}").key)
        clock.advance(1.0)
    clock.advance(0.5)                          # t=5.5: watermark 3.5 → writes at 0..3 replicated
    world.faults.add({"kind": "region_outage", "region": "eastus"})
    clock.advance(30)                           # the outage lasts; nothing more replicates
    op = world.begin_failover_group_failover("odin-sql-westus", "odin-fg", FORCED)
    world.advance()
    assert op.status == "Succeeded" and op.details["lost_writes"] == 1
    assert survivors(world) == {k: k != keys[4] for k in keys}


def test_planned_failover_takes_until_the_secondary_has_caught_up(world: World, clock: ManualClock):
    world.write_order("eastus", b"{}")          # t=0, replicated at t=2
    clock.advance(0.5)
    op = world.begin_failover_group_failover("odin-sql-westus", "odin-fg", PLANNED)
    assert op.due_at - op.started_at == pytest.approx(1.5)
    world.write_order("eastus", b"{}")          # written during the failover: still not lost
    clock.advance(1.49)
    world.advance()
    assert op.status == "InProgress"
    clock.advance(0.02)
    world.advance()
    assert op.status == "Succeeded" and op.details["lost_writes"] == 0
    assert all(survivors(world).values()) and len(survivors(world)) == 2
    assert world.failover_groups["odin-fg"].primary == "odin-sql-westus"


def test_planned_failover_fails_if_the_primary_region_goes_down_before_it_completes(world: World,
                                                                                     clock: ManualClock):
    world.write_order("eastus", b"{}")
    op = world.begin_failover_group_failover("odin-sql-westus", "odin-fg", PLANNED)
    world.faults.add({"kind": "region_outage", "region": "eastus"})
    clock.advance(LAG)
    world.advance()
    assert op.status == "Failed" and op.error["code"] == "FailoverGroupPrimaryUnreachable"
    assert world.failover_groups["odin-fg"].primary == "odin-sql-eastus"


def test_try_planned_decides_at_completion_and_falls_back_to_forced(world: World, clock: ManualClock):
    world.write_order("eastus", b"{}")
    op = world.begin_failover_group_failover("odin-sql-westus", "odin-fg", TRY_PLANNED)
    assert op.details["mode"] == "planned"
    world.faults.add({"kind": "region_outage", "region": "eastus"})
    clock.advance(LAG)
    world.advance()
    assert (op.status, op.details["performed"], op.details["lost_writes"]) == ("Succeeded", "forced", 1)


def test_writes_need_the_primary_region_and_reads_come_from_the_primary(world: World, clock: ManualClock):
    ack = world.write_order("westus", b'{"n": 1}')
    assert ack.committed_on == "odin-sql-eastus"
    assert world.read_order(ack.id) == b'{"n": 1}'
    world.faults.add({"kind": "region_outage", "region": "eastus"})
    with pytest.raises(DataPlaneUnavailable):
        world.write_order("westus", b"{}")
    with pytest.raises(ArmError) as down:
        world.failover_group("odin-sql-eastus", "odin-fg")
    assert down.value.status == 503


def test_storage_last_sync_time_is_the_replication_watermark(world: World, clock: ManualClock):
    account = world.storage_account("odindrillsdata")
    start = clock()
    clock.advance(1.0)
    world.write_blob("eastus", "a", b"1", "text/plain")       # t = start + 1; storage lag 5 s
    clock.advance(3.0)
    stats = world.geo_replication_stats(world.storage_account("odindrillsdata"))
    assert stats["lastSyncTime"] == iso(start) and account.replica.pending == 1
    assert stats["status"] == "Live" and stats["canPlannedFailover"] is True
    clock.advance(2.5)                                          # watermark start + 1.5 passes the write
    stats = world.geo_replication_stats(world.storage_account("odindrillsdata"))
    assert stats["lastSyncTime"] == iso(start + 1.5) and account.replica.pending == 0


def test_unplanned_storage_failover_keeps_only_what_was_synced(world: World, clock: ManualClock):
    world.write_blob("eastus", "old", b"1", "text/plain")
    clock.advance(6.0)
    world.write_blob("eastus", "new", b"2", "text/plain")
    world.faults.add({"kind": "region_outage", "region": "eastus"})
    op = world.begin_storage_failover("odindrillsdata", planned=False)
    world.advance()
    account = world.storage_account("odindrillsdata")
    assert (op.status, account.sku, account.primary_region, account.secondary_region) == (
        "Succeeded", "Standard_LRS", "westus", None)
    assert survivors(world) == {"old": True, "new": False}


def test_origin_changes_reach_the_edge_only_once_deployed(world: World, clock: ManualClock):
    world.faults.add({"kind": "slow_operations", "seconds": 1.0, "operation": "origin_update"})
    op = world.begin_origin_update("odin-frontdoor", "app-origins", "app-eastus",
                                   {"properties": {"enabledState": "Disabled"}})
    assert world.origin("odin-frontdoor", "app-origins", "app-eastus").enabled_state == "Disabled"
    assert [t.enabled for t in world.edge_view().targets] == [True, True]
    clock.advance(1.0)
    assert [t.enabled for t in world.edge_view().targets] == [False, True]
    assert op.status == "Succeeded"
