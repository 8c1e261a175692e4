"""Point-in-time restore of blob ranges in the sandbox, through the real azure-mgmt-storage client.

What a restore drill's blob part leans on: ``begin_restore_blob_ranges`` puts every blob of the
ranges back as it was at the point (blobs written later disappear, blobs outside the ranges are
untouched); a second restore to the moment before the first one undoes it; points outside the
restore window are refused; a restore in progress blocks the range's data plane and a second
restore; the account shows the latest restore with ``$expand=blobRestoreStatus``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.storage import models as storage_models

from conftest import make_arm

ACCOUNT = "odindrillsdata"


def put(http: httpx.Client, url: str, name: str, data: bytes) -> dict:
    response = http.put(f"{url}/api/blobs/{name}", content=data, headers={"content-type": "text/plain"})
    assert response.status_code == 201, response.text
    return response.json()


def read(http: httpx.Client, url: str, name: str) -> bytes | None:
    response = http.get(f"{url}/api/blobs/{name}")
    assert response.status_code in (200, 404), response.text
    return response.content if response.status_code == 200 else None


def params(point: datetime, start: str, end: str) -> storage_models.BlobRestoreParameters:
    return storage_models.BlobRestoreParameters(
        time_to_restore=point, blob_ranges=[storage_models.BlobRestoreRange(start_range=start, end_range=end)])


def test_restore_puts_the_range_back_as_it_was_and_a_second_restore_undoes_it(start_sandbox, http):
    sandbox = start_sandbox(pitr_blob_base_seconds=0.2, pitr_blob_seconds_per_change=0.0)
    arm = make_arm(sandbox)
    try:
        url = sandbox.info()["regions"]["eastus"]
        put(http, url, "canary/d1/a", b"a1")
        put(http, url, "canary/d1/b", b"b1")
        put(http, url, "other/keep", b"k1")
        time.sleep(0.2)
        point = datetime.now(timezone.utc)
        time.sleep(0.2)
        put(http, url, "canary/d1/a", b"a2")  # overwritten after the point
        put(http, url, "canary/d1/c", b"c1")  # created after the point
        put(http, url, "other/keep", b"k2")  # outside the range
        before_restore = datetime.now(timezone.utc)
        poller = arm.storage.storage_accounts.begin_restore_blob_ranges(
            arm.rg, ACCOUNT, params(point, "canary/d1/", "canary/d10"))
        status = poller.result()
        assert status.status == "Complete" and status.restore_id
        assert status.parameters.blob_ranges[0].start_range == "canary/d1/"
        assert read(http, url, "canary/d1/a") == b"a1"
        assert read(http, url, "canary/d1/b") == b"b1"
        assert read(http, url, "canary/d1/c") is None
        assert read(http, url, "other/keep") == b"k2", "a blob outside the range is untouched"
        account = arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT, expand="blobRestoreStatus")
        assert account.properties.blob_restore_status.restore_id == status.restore_id
        truth = sandbox.world.blob_restore_report()[-1]
        assert sorted(truth["restored"]) == ["canary/d1/a"] and truth["removed"] == ["canary/d1/c"]
        # restore back to the moment before the first restore: its undo
        arm.storage.storage_accounts.begin_restore_blob_ranges(
            arm.rg, ACCOUNT, params(before_restore, "canary/d1/", "canary/d10")).result()
        assert read(http, url, "canary/d1/a") == b"a2"
        assert read(http, url, "canary/d1/c") == b"c1"
    finally:
        arm.close()


def test_a_point_outside_the_window_and_a_bad_range_are_refused(start_sandbox):
    sandbox = start_sandbox()
    arm = make_arm(sandbox)
    try:
        for point, start, end, code in [
                (datetime.now(timezone.utc) - timedelta(days=30), "canary/", "canary0", "InvalidRestorePointInTime"),
                (datetime.now(timezone.utc) + timedelta(hours=1), "canary/", "canary0", "InvalidRestorePointInTime"),
                (datetime.now(timezone.utc), "z", "a", "InvalidBlobRange")]:
            with pytest.raises(HttpResponseError) as refused:
                arm.storage.storage_accounts.begin_restore_blob_ranges(arm.rg, ACCOUNT, params(point, start, end))
            assert refused.value.status_code == 400 and refused.value.error.code == code
    finally:
        arm.close()


def test_a_running_restore_blocks_its_range_and_a_second_restore(start_sandbox, http):
    sandbox = start_sandbox(pitr_blob_base_seconds=1.5)
    arm = make_arm(sandbox)
    try:
        url = sandbox.info()["regions"]["eastus"]
        put(http, url, "canary/x/1", b"one")
        time.sleep(0.05)
        poller = arm.storage.storage_accounts.begin_restore_blob_ranges(
            arm.rg, ACCOUNT, params(datetime.now(timezone.utc), "canary/x/", "canary/x0"))
        blocked = http.put(f"{url}/api/blobs/canary/x/2", content=b"two")
        assert blocked.status_code == 503 and blocked.json()["error"] == "OperationNotAllowedOnBlobRange"
        assert http.put(f"{url}/api/blobs/elsewhere/3", content=b"three").status_code == 201
        with pytest.raises(HttpResponseError) as busy:
            arm.storage.storage_accounts.begin_restore_blob_ranges(
                arm.rg, ACCOUNT, params(datetime.now(timezone.utc), "a/", "b/"))
        assert busy.value.status_code == 409
        assert poller.result().status == "Complete"
        assert read(http, url, "canary/x/1") == b"one"
    finally:
        arm.close()
