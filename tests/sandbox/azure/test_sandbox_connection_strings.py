"""The region apps write orders where their web app's ``orders`` connection string says, read on
every write: the failover group's listener follows the primary (the default); a named server takes
writes only while it is the primary and its region answers. Connection strings are changed with the
real azure-mgmt-web client, failovers with the real azure-mgmt-sql client, writes over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from azure.mgmt.web import WebSiteManagementClient, models

from odin_drills.sandbox.azure import AzureSandbox, Topology
from odin_drills.sandbox.azure.db_target import InvalidConnectionString, resolve
from odin_drills.sandbox.azure.world_web import orders_connection_string

from conftest import FakeCredential, make_arm, sdk_kwargs

EAST, WEST, FG = "odin-sql-eastus", "odin-sql-westus", "odin-fg"


def order(sandbox: AzureSandbox, region: str) -> httpx.Response:
    return httpx.post(f"{sandbox.info()['regions'][region]}/api/orders", json={"sku": "x"}, timeout=5)


def point(sandbox: AzureSandbox, app: str, host: str) -> None:
    """Move the app's ``orders`` connection string, as a runbook does: through ARM."""
    info = sandbox.info()
    web = WebSiteManagementClient(FakeCredential(), info["subscription_id"], **sdk_kwargs(info))
    try:
        body = models.ConnectionStringDictionary(properties={"orders": models.ConnStringValueTypePair(
            value=orders_connection_string(host, "orders"), type=models.ConnectionStringType.SQL_AZURE)})
        web.web_apps.update_connection_strings(info["resource_group"], app, body)
    finally:
        web.close()


def force_failover_to_west(sandbox: AzureSandbox) -> None:
    arm = make_arm(sandbox)
    try:
        arm.sql.failover_groups.begin_force_failover_allow_data_loss(arm.rg, WEST, FG).result()
    finally:
        arm.close()


def test_by_default_the_apps_write_through_the_listener_and_follow_a_failover(sandbox: AzureSandbox):
    assert sandbox.info()["connection_mode"] == "listener" and sandbox.world is not None
    value = sandbox.world.web_apps["app-westus"].connection_strings["orders"][0]
    assert value.startswith("Server=tcp:odin-fg.database.windows.net,1433;")
    assert order(sandbox, "westus").json()["database_server"] == EAST
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    assert order(sandbox, "westus").json()["error"] == "DatabaseUnavailable"
    force_failover_to_west(sandbox)
    written = order(sandbox, "westus")
    assert written.status_code == 201 and written.json()["database_server"] == WEST


def test_per_server_apps_write_to_the_old_primary_until_their_connection_string_moves(
        start_sandbox: Callable[..., AzureSandbox]):
    sandbox = start_sandbox(connection_mode="per_server")
    assert sandbox.info()["connection_mode"] == "per_server"
    assert sandbox.world is not None
    value = sandbox.world.web_apps["app-westus"].connection_strings["orders"][0]
    assert value.startswith("Server=tcp:odin-sql-eastus.database.windows.net,1433;")
    assert order(sandbox, "westus").json()["database_server"] == EAST

    # the DR server is a geo-secondary: read-only, and the app says so
    point(sandbox, "app-westus", WEST)
    refused = order(sandbox, "westus")
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert (body["error"], body["database_server"]) == ("DatabaseReadOnly", "odin-sql-westus.database.windows.net")
    assert "'odin-sql-westus' is a geo-secondary of failover group 'odin-fg'" in body["message"]
    assert body["message"].startswith("web app of westus writes to odin-sql-westus.database.windows.net")
    point(sandbox, "app-westus", EAST)

    # the failover: the DR app still names the old primary, in a region that is down
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    force_failover_to_west(sandbox)
    failed = order(sandbox, "westus")
    assert failed.status_code == 503 and failed.json()["error"] == "DatabaseUnavailable", failed.text
    assert "'odin-sql-eastus' in region 'eastus' does not answer" in failed.json()["message"]

    point(sandbox, "app-westus", WEST)  # the runbook's "update connection strings to the secondary region"
    written = order(sandbox, "westus")
    assert written.status_code == 201 and written.json()["database_server"] == WEST
    assert [w["committed_on"] for w in sandbox.writes()] == [EAST, WEST]


def test_per_server_mode_keeps_each_servers_connection_string_in_the_key_vault(
        start_sandbox: Callable[..., AzureSandbox]):
    """A runbook moves the string with ``${secret:orders-db-westus}``: the value never sits in a plan."""
    sandbox = start_sandbox(connection_mode="per_server")
    assert {s["name"] for s in sandbox.secrets.summary()} == {"orders-db-eastus", "orders-db-westus"}
    found = sandbox.secrets.get("orders-db-westus", None)
    assert found is not None and found[1].value == orders_connection_string(WEST, "orders")


def test_a_connection_string_the_app_cannot_use_is_a_500_that_says_why(sandbox: AzureSandbox):
    assert sandbox.world is not None
    sandbox.world.web_apps["app-eastus"].connection_strings["orders"] = ("Server=tcp:db.example.org,1433", "SQLAzure")
    bad = order(sandbox, "eastus")
    assert bad.status_code == 500 and bad.json()["error"] == "ConnectionStringInvalid"
    assert "'orders' of web app 'app-eastus' is not usable: its server 'db.example.org'" in bad.json()["message"]
    del sandbox.world.web_apps["app-eastus"].connection_strings["orders"]
    assert order(sandbox, "eastus").json()["message"].endswith("of web app 'app-eastus' is not set.")
    assert order(sandbox, "westus").status_code == 201  # the other region's app is configured on its own


@pytest.mark.parametrize(("value", "wanted"), [
    ("Server=tcp:ODIN-FG.database.windows.net,1433;Initial Catalog=orders", (True, FG)),
    ("Data Source=odin-sql-westus.database.windows.net;Database=orders", (False, WEST)),
    ("server = odin-sql-eastus.database.windows.net.", (False, EAST)),
])
def test_the_server_of_a_connection_string_is_a_listener_or_a_server(value: str, wanted: Any):
    target = resolve(value, failover_groups=[FG], servers=[EAST, WEST])
    assert (target.listener, target.name) == wanted


@pytest.mark.parametrize("value", ["Initial Catalog=orders", "Server=tcp:odin-sql-north.database.windows.net"])
def test_a_connection_string_naming_nothing_known_is_refused(value: str):
    with pytest.raises(InvalidConnectionString):
        resolve(value, failover_groups=[FG], servers=[EAST, WEST])


def test_an_unknown_connection_mode_is_refused():
    with pytest.raises(ValueError, match="connection_mode 'both'"):
        Topology.from_seed(0, connection_mode="both")
