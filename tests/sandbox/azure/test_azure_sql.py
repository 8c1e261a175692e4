"""The SQL failover group, through the real azure-mgmt-sql client."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from odin_drills.sandbox.azure import AzureSandbox

from conftest import Arm, wait_until

EAST, WEST, FG = "odin-sql-eastus", "odin-sql-westus", "odin-fg"


def write_orders(http: httpx.Client, url: str, count: int, tag: str) -> list[str]:
    ids = []
    for n in range(count):
        response = http.post(f"{url}/api/orders", json={"tag": tag, "n": n})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def roles(arm: Arm, server: str) -> tuple[str, str, str]:
    """(this server's role, its partner's role, replicationState) from ``server``'s view."""
    props = arm.sql.failover_groups.get(arm.rg, server, FG).properties
    return props.replication_role, props.partner_servers[0].replication_role, props.replication_state


def replicated(sandbox: AzureSandbox) -> bool:
    return sandbox.state()["failover_groups"][FG]["pending_writes"] == 0


def lost_ids(sandbox: AzureSandbox) -> set[str]:
    return {w["id"] for w in sandbox.writes() if not w["survives"]}


def test_each_server_shows_its_own_view_of_the_failover_group(arm: Arm, sandbox: AzureSandbox):
    east = arm.sql.failover_groups.get(arm.rg, EAST, FG)
    assert east.id == sandbox.info()["resources"]["failover_groups"][0]
    assert east.location == "East US"
    assert east.properties.replication_role == "Primary"
    assert east.properties.replication_state == "CATCH_UP"
    assert [(p.id.split("/")[-1], p.location, p.replication_role)
            for p in east.properties.partner_servers] == [(WEST, "West US", "Secondary")]
    assert east.properties.databases == [sandbox.info()["resources"]["databases"][0]]
    west = arm.sql.failover_groups.get(arm.rg, WEST, FG)
    assert west.properties.replication_role == "Secondary"
    assert west.properties.databases[0].endswith(f"/servers/{WEST}/databases/orders")
    assert [g.name for g in arm.sql.failover_groups.list_by_server(arm.rg, WEST)] == [FG]
    with pytest.raises(ResourceNotFoundError):
        arm.sql.failover_groups.get(arm.rg, EAST, "no-such-group")
    with pytest.raises(ResourceNotFoundError):
        arm.sql.failover_groups.get(arm.rg, "no-such-server", FG)


def test_replication_links_list_and_get_from_both_sides(arm: Arm):
    by_server = list(arm.sql.replication_links.list_by_server(arm.rg, EAST))
    by_db = list(arm.sql.replication_links.list_by_database(arm.rg, EAST, "orders"))
    assert [l.name for l in by_server] == [l.name for l in by_db] and len(by_db) == 1
    link = arm.sql.replication_links.get(arm.rg, EAST, "orders", by_db[0].name)
    assert (link.properties.role, link.properties.partner_role) == ("Primary", "Secondary")
    assert (link.properties.partner_server, link.properties.partner_location) == (WEST, "West US")
    assert link.properties.link_type == "GEO" and link.properties.replication_mode == "ASYNC"
    mirror = arm.sql.replication_links.get(arm.rg, WEST, "orders", by_db[0].name)
    assert (mirror.properties.role, mirror.properties.partner_server) == ("Secondary", EAST)
    with pytest.raises(ResourceNotFoundError):
        arm.sql.replication_links.get(arm.rg, EAST, "orders", "00000000-0000-0000-0000-000000000000")


def test_planned_failover_both_ways_swaps_roles_and_loses_nothing(arm: Arm, sandbox: AzureSandbox,
                                                                  http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    write_orders(http, edge, 5, "before")  # still replicating when the failover starts
    assert not replicated(sandbox)

    result = arm.sql.failover_groups.begin_failover(arm.rg, WEST, FG).result()
    assert result.id.split("/servers/")[1].startswith(WEST)
    assert result.properties.replication_role == "Primary"
    assert result.properties.partner_servers[0].replication_role == "Secondary"
    assert roles(arm, WEST)[:2] == ("Primary", "Secondary")
    assert roles(arm, EAST)[:2] == ("Secondary", "Primary")
    after = http.post(f"{edge}/api/orders", json={"tag": "after"}).json()
    assert after["database_server"] == WEST

    back = arm.sql.failover_groups.begin_failover(arm.rg, EAST, FG).result()
    assert back.properties.replication_role == "Primary"
    assert roles(arm, WEST)[:2] == ("Secondary", "Primary")

    writes = sandbox.writes()
    assert len(writes) == 6 and all(w["survives"] for w in writes)
    failovers = [op for op in sandbox.operations() if op["operation"] == "failover"]
    assert [(op["result"], op["details"]["lost_writes"]) for op in failovers] == [("Succeeded", 0)] * 2
    # a planned failover waits for the secondary: it ended no earlier than the last write + lag
    last_write = max(w["acknowledged_at_epoch"] for w in writes if w["committed_on"] == EAST)
    assert failovers[0]["finished_at_epoch"] >= last_write + 1.0 - 1e-6


def test_planned_failover_fails_with_a_clear_error_while_the_primary_region_is_down(
        arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    with pytest.raises(HttpResponseError) as failure:
        arm.sql.failover_groups.begin_failover(arm.rg, WEST, FG).result()
    assert failure.value.error.code == "FailoverGroupPrimaryUnreachable"
    assert "forceFailoverAllowDataLoss" in failure.value.error.message
    assert roles(arm, WEST) == ("Secondary", "Primary", "SUSPENDED")
    # the primary's own server does not answer ARM while its region is out
    with pytest.raises(HttpResponseError) as down:
        arm.sql.failover_groups.get(arm.rg, EAST, FG)
    assert down.value.status_code == 503
    assert [op["result"] for op in sandbox.operations()] == ["Failed"]


def test_forced_failover_loses_exactly_the_writes_not_yet_replicated(arm: Arm, sandbox: AzureSandbox,
                                                                     http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    safe = write_orders(http, edge, 3, "replicated")
    wait_until(lambda: replicated(sandbox))
    at_risk = write_orders(http, edge, 4, "in flight")
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})

    result = arm.sql.failover_groups.begin_force_failover_allow_data_loss(arm.rg, WEST, FG).result()
    assert result.properties.replication_role == "Primary"
    assert lost_ids(sandbox) == set(at_risk)
    assert {w["id"] for w in sandbox.writes() if w["survives"]} == set(safe)
    (op,) = sandbox.operations()
    assert (op["operation"], op["result"], op["details"]["lost_writes"]) == (
        "forceFailoverAllowDataLoss", "Succeeded", 4)
    # the service writes again, to the new primary, once the edge has left eastus
    after = wait_until(lambda: (r := http.post(f"{edge}/api/orders", json={"tag": "after"})).status_code == 201
                       and r.json())
    assert (after["region"], after["database_server"]) == ("westus", WEST)

    sandbox.faults.clear()  # the old primary comes back as a secondary, reseeded: still lost
    assert roles(arm, EAST)[:2] == ("Secondary", "Primary")
    assert lost_ids(sandbox) == set(at_risk)
    wait_until(lambda: roles(arm, EAST)[2] == "CATCH_UP", timeout=5)


def test_try_planned_falls_back_to_forced_when_the_primary_region_is_down(arm: Arm, sandbox: AzureSandbox,
                                                                           http: httpx.Client):
    write_orders(http, sandbox.info()["frontdoor_url"], 2, "in flight")
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    result = arm.sql.failover_groups.begin_try_planned_before_forced_failover(arm.rg, WEST, FG).result()
    assert result.properties.replication_role == "Primary"
    (op,) = sandbox.operations()
    assert op["details"]["performed"] == "forced" and op["details"]["lost_writes"] == 2
    assert len(lost_ids(sandbox)) == 2


def test_try_planned_is_a_planned_failover_when_both_regions_are_up(arm: Arm, sandbox: AzureSandbox,
                                                                     http: httpx.Client):
    write_orders(http, sandbox.info()["frontdoor_url"], 3, "in flight")
    arm.sql.failover_groups.begin_try_planned_before_forced_failover(arm.rg, WEST, FG).result()
    (op,) = sandbox.operations()
    assert (op["details"]["performed"], op["details"]["lost_writes"]) == ("planned", 0)
    assert not lost_ids(sandbox)


def test_failover_sent_to_the_current_primary_is_refused_and_logged(arm: Arm, sandbox: AzureSandbox):
    with pytest.raises(HttpResponseError) as refused:
        arm.sql.failover_groups.begin_failover(arm.rg, EAST, FG)
    assert refused.value.status_code == 400
    assert refused.value.error.code == "FailoverGroupAlreadyPrimary"
    assert [(op["operation"], op["result"]) for op in sandbox.operations()] == [("failover", "Rejected")]
    assert roles(arm, EAST)[:2] == ("Primary", "Secondary")


def test_put_updates_the_failover_policy(arm: Arm):
    current = arm.sql.failover_groups.get(arm.rg, EAST, FG)
    body = {"properties": {
        "readWriteEndpoint": {"failoverPolicy": "Automatic", "failoverWithDataLossGracePeriodMinutes": 60},
        "readOnlyEndpoint": {"failoverPolicy": "Disabled"},
        "partnerServers": [{"id": current.properties.partner_servers[0].id}],
        "databases": current.properties.databases}}
    updated = arm.sql.failover_groups.begin_create_or_update(arm.rg, EAST, FG, body).result()
    assert updated.properties.read_write_endpoint.failover_policy == "Automatic"
    assert updated.properties.read_write_endpoint.failover_with_data_loss_grace_period_minutes == 60
    with pytest.raises(HttpResponseError) as bad:
        arm.sql.failover_groups.begin_create_or_update(
            arm.rg, EAST, FG, {"properties": {"readWriteEndpoint": {"failoverPolicy": "Sometimes"}}})
    assert bad.value.status_code == 400
