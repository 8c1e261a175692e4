"""Point-in-time restore in the sandbox, through the real azure-mgmt-sql client over HTTPS.

What a restore drill leans on: the restored copy holds exactly the orders committed up to the
effective restore point; writes inside the log-backup lag at the moment of the request are not in
it; the restore takes time proportional to the database's size; points outside the restore window
are refused; the copy is deleted again (and deleting it twice is a no-op).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql import models as sql_models

from conftest import Arm, make_arm

EAST, DB = "odin-sql-eastus", "orders"
MIB = 1024 * 1024


def write(http: httpx.Client, url: str, n: int, tag: str) -> list[dict]:
    acks = []
    for i in range(n):
        response = http.post(f"{url}/api/orders", json={"tag": tag, "n": i})
        assert response.status_code == 201, response.text
        acks.append(response.json())
    return acks


def restore_body(arm: Arm, point: datetime, **tags: str) -> sql_models.Database:
    source = f"/subscriptions/{arm.info['subscription_id']}/resourceGroups/{arm.rg}/providers/Microsoft.Sql/servers/{EAST}/databases/{DB}"
    return sql_models.Database(location="eastus", tags=tags or None, properties=sql_models.DatabaseProperties(
        create_mode="PointInTimeRestore", source_database_id=source, restore_point_in_time=point))


def test_restore_holds_exactly_the_rows_up_to_the_point_and_loses_the_log_lag(start_sandbox, http):
    sandbox = start_sandbox(pitr_log_lag_seconds=0.6, pitr_base_seconds=0.2, pitr_seconds_per_gib=0.0)
    arm = make_arm(sandbox)
    try:
        url = sandbox.info()["regions"]["eastus"]
        early = write(http, url, 4, "early")
        time.sleep(0.3)
        middle = datetime.now(timezone.utc)
        time.sleep(0.3)
        late = write(http, url, 3, "late")
        time.sleep(0.8)  # past the log lag: everything above is backed up
        # 1. a point between the two batches: exactly the early rows
        poller = arm.sql.databases.begin_create_or_update(arm.rg, EAST, "orders-pitr-a", restore_body(arm, middle, drill="t"))
        db = poller.result()
        assert db.properties.status == "Online" and db.tags == {"drill": "t"}
        ids = http.get(f"{url}/api/sql/{EAST}/databases/orders-pitr-a/orders").json()["ids"]
        assert sorted(ids) == sorted(a["id"] for a in early)
        first = http.get(f"{url}/api/sql/{EAST}/databases/orders-pitr-a/orders/{early[0]['id']}")
        assert first.status_code == 200 and first.json()["order"] == {"tag": "early", "n": 0}
        assert http.get(f"{url}/api/sql/{EAST}/databases/orders-pitr-a/orders/{late[0]['id']}").status_code == 404
        # 2. "now": the writes inside the log-backup lag are not restorable yet
        fresh = write(http, url, 2, "fresh")
        now = datetime.now(timezone.utc)
        arm.sql.databases.begin_create_or_update(arm.rg, EAST, "orders-pitr-b", restore_body(arm, now)).result()
        ids = set(http.get(f"{url}/api/sql/{EAST}/databases/orders-pitr-b/orders").json()["ids"])
        assert ids == {a["id"] for a in early + late}, "the fresh writes are inside the 0.6 s log lag"
        truth = {r["database"]: r for r in sandbox.world.restore_report()}
        b = truth["orders-pitr-b"]
        assert b["effective_point_epoch"] == pytest.approx(b["requested_at_epoch"] - 0.6)
        assert all(f["id"] not in ids for f in fresh)
        # 3. the copies are listed, and deleted (twice is fine: 204 the second time)
        names = {d.name for d in arm.sql.databases.list_by_server(arm.rg, EAST)}
        assert {"orders", "orders-pitr-a", "orders-pitr-b"} <= names
        arm.sql.databases.begin_delete(arm.rg, EAST, "orders-pitr-a").result()
        arm.sql.databases.begin_delete(arm.rg, EAST, "orders-pitr-a").result()
        with pytest.raises(HttpResponseError) as missing:
            arm.sql.databases.get(arm.rg, EAST, "orders-pitr-a")
        assert missing.value.status_code == 404
    finally:
        arm.close()


def test_restore_duration_is_proportional_to_size(start_sandbox):
    sandbox = start_sandbox(pitr_base_seconds=0.0, pitr_seconds_per_gib=1024.0, pitr_base_size_bytes=0)
    arm = make_arm(sandbox)
    try:
        with httpx.Client(timeout=10) as http:
            write(http, sandbox.info()["regions"]["eastus"], 20, "x" * 200)
        time.sleep(2.1)
        arm.sql.databases.begin_create_or_update(arm.rg, EAST, "sized", restore_body(
            arm, datetime.now(timezone.utc) - timedelta(seconds=2.05))).result()
        op = next(o for o in sandbox.operations() if o["operation"] == "databasePointInTimeRestore")
        size = op["details"]["size_bytes"]
        assert size > 20 * 200
        took = op["finished_at_epoch"] - op["time_epoch"]
        assert took == pytest.approx(size / MIB, rel=1e-6)  # 1024 s per GiB = 1 s per MiB
    finally:
        arm.close()


def test_points_outside_the_window_and_secondaries_are_refused(sandbox, arm: Arm):
    future = datetime.now(timezone.utc) + timedelta(minutes=5)
    with pytest.raises(HttpResponseError) as refused:
        arm.sql.databases.begin_create_or_update(arm.rg, EAST, "too-late", restore_body(arm, future))
    assert refused.value.error.code == "InvalidRestorePointInTime"
    before = datetime.now(timezone.utc) - timedelta(days=30)
    with pytest.raises(HttpResponseError) as refused:
        arm.sql.databases.begin_create_or_update(arm.rg, EAST, "too-early", restore_body(arm, before))
    assert refused.value.error.code == "InvalidRestorePointInTime"
    body = restore_body(arm, datetime.now(timezone.utc))
    body.properties.source_database_id = body.properties.source_database_id.replace(EAST, "odin-sql-westus")
    with pytest.raises(HttpResponseError) as refused:
        arm.sql.databases.begin_create_or_update(arm.rg, "odin-sql-westus", "from-secondary", body)
    assert refused.value.error.code == "SourceDatabaseIsGeoSecondary"
    rejected = [o["operation"] for o in sandbox.operations() if o["result"] == "Rejected"]
    assert rejected == ["databasePointInTimeRestore"] * 3
