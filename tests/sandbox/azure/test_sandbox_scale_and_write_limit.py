"""Issue 14: a sandbox world of many resources, and ARM's per-subscription write limit.

A scaled world (``scale``) adds generated failover groups, storage accounts and origin groups beside
the default estate, deterministic by name, each failing over through the real SDK like the default
ones; the default world is unchanged. The write limit (``arm_throttle``, opt-in) answers 429 with a
Retry-After once the subscription's token bucket is empty and counts the writes that arrived before
a Retry-After it gave had elapsed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.sandbox.azure.__main__ import main as sandbox_main
from odin_drills.sandbox.azure.arm_throttle import ArmWriteThrottle, WriteLimit, parse_write_limit
from odin_drills.sandbox.azure.scale import Scale, parse_scale

from conftest import make_arm, trust


def test_scale_is_parsed_from_the_cli_form_and_rejects_what_it_does_not_know() -> None:
    assert parse_scale("fg=200,storage=50,afd=50") == Scale(200, 50, 50)
    assert parse_scale(" afd=2 ") == Scale(origin_groups=2)
    assert parse_scale(None) == Scale() and Scale().empty
    for bad, why in [("fg=x", "whole number"), ("vm=3", "not one of"), ("fg", "not one of"), ("fg=-1", "between")]:
        with pytest.raises(ValueError, match=why):
            parse_scale(bad)
    assert Scale(3).failover_group_names() == ["fog-0001", "fog-0002", "fog-0003"]
    assert Scale(storage_accounts=1).storage_account_names() == ["odinst0001"]


def test_the_default_world_is_unchanged(start_sandbox: Callable[..., AzureSandbox]) -> None:
    sb = start_sandbox()
    info = sb.info()
    assert info["scaled_resources"] == {"failover_groups": [], "storage_accounts": [], "frontdoor_origin_groups": []}
    assert info["arm_write_limit"] is None and sb.throttle_stats() is None
    state = sb.state()
    assert list(state["failover_groups"]) == ["odin-fg"] and list(state["storage_accounts"]) == ["odindrillsdata"]
    world = sb.world
    assert world is not None and list(world.frontdoor.origin_groups) == ["app-origins"]
    assert httpx.get(f"{info['admin_url']}/throttle", timeout=5).status_code == 404


def test_a_scaled_world_fails_over_its_generated_resources_through_the_sdk(
        start_sandbox: Callable[..., AzureSandbox]) -> None:
    sb = start_sandbox(scale="fg=3,storage=2,afd=2")
    info = sb.info()
    scaled = info["scaled_resources"]
    assert [i.rsplit("/", 1)[-1] for i in scaled["failover_groups"]] == ["fog-0001", "fog-0002", "fog-0003"]
    assert [i.rsplit("/", 1)[-1] for i in scaled["storage_accounts"]] == ["odinst0001", "odinst0002"]
    assert [i.rsplit("/", 1)[-1] for i in scaled["frontdoor_origin_groups"]] == ["og-0001", "og-0002"]
    arm = make_arm(sb)
    try:
        arm.sql.failover_groups.begin_failover(arm.rg, "odin-sql-westus", "fog-0002").result()
        links = list(arm.sql.replication_links.list_by_database(arm.rg, "odin-sql-westus", "db-0002"))
        assert [link.role for link in links] == ["Primary"]
        arm.storage.storage_accounts.begin_failover(arm.rg, "odinst0002").result()
        origins = [o.name for o in arm.cdn.afd_origins.list_by_origin_group(arm.rg, "odin-frontdoor", "og-0001")]
        assert origins == ["og-0001-eastus", "og-0001-westus"]
    finally:
        arm.close()
    state = sb.state()
    assert {n: g["primary_region"] for n, g in state["failover_groups"].items()} == {
        "odin-fg": "eastus", "fog-0001": "eastus", "fog-0002": "westus", "fog-0003": "eastus"}
    assert state["storage_accounts"]["odinst0002"]["primary_region"] == "westus"
    assert state["storage_accounts"]["odindrillsdata"]["primary_region"] == "eastus"
    assert list(state["frontdoor_origins"]) == ["app-eastus", "app-westus"]  # the edge still routes the default group


def test_the_token_bucket_refills_and_counts_writes_that_ignore_retry_after() -> None:
    now = [100.0]
    throttle = ArmWriteThrottle(WriteLimit(2, 1.0), clock=lambda: now[0])
    path = "/subscriptions/SUB/resourceGroups/rg/providers/x"
    assert throttle.admit("GET", path) is None  # reads are not limited
    assert [throttle.admit("POST", path).allowed for _ in range(2)] == [True, True]
    first = throttle.admit("PUT", path)
    assert first is not None and not first.allowed and first.retry_after == pytest.approx(0.5)
    assert first.headers()["Retry-After"] == "0.500" and first.headers()["x-ms-retry-after-ms"] == "500"
    now[0] += 0.2
    assert not throttle.admit("PATCH", path).allowed  # before the Retry-After elapsed: ignored it
    now[0] += 0.4
    assert throttle.admit("DELETE", path).allowed  # refilled; after the Retry-After
    assert throttle.admit("POST", "/subscriptions/OTHER/x").allowed  # another subscription, another bucket
    stats = throttle.stats()
    assert (stats["writes"], stats["throttled"], stats["ignored_retry_after"]) == (6, 2, 1)
    assert stats["subscriptions"]["sub"]["ignored_retry_after"] == 1
    assert parse_write_limit("50/1") == WriteLimit(50, 1.0) and parse_write_limit("5/0.5s") == WriteLimit(5, 0.5)
    with pytest.raises(ValueError):
        parse_write_limit("fast")


def test_the_sandbox_answers_429_with_retry_after_beyond_the_write_limit(
        start_sandbox: Callable[..., AzureSandbox]) -> None:
    sb = start_sandbox(arm_write_limit="1/60")  # one write a minute: the second is throttled
    info = sb.info()
    fg = f"{info['resources']['failover_groups'][0]}".replace("odin-sql-eastus", "odin-sql-westus")
    url = f"{info['arm_url']}{fg}/failover?api-version=2021-11-01"
    headers = {"Authorization": "Bearer x"}
    with httpx.Client(verify=trust(info), timeout=10) as client:
        first = client.post(url, headers=headers)
        assert first.status_code == 202 and first.headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
        second = client.post(url, headers=headers)
        assert second.status_code == 429 and second.json()["error"]["code"] == "TooManyRequests"
        assert 59.0 < float(second.headers["Retry-After"]) <= 60.0
        assert client.get(url.replace("/failover?", "?"), headers=headers).status_code == 200  # reads pass
        assert client.post(url, headers=headers).status_code == 429  # too early: ignored the Retry-After
    stats = httpx.get(f"{info['admin_url']}/throttle", timeout=5).json()
    assert (stats["writes"], stats["throttled"], stats["ignored_retry_after"]) == (3, 2, 1)
    assert stats == sb.throttle_stats()
    sb.reset()
    assert sb.throttle_stats()["writes"] == 0


def test_the_cli_entry_takes_scale_and_write_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("odin_drills.sandbox.azure.__main__.serve",
                        lambda state_dir, seed, **options: seen.update(options) or 0)
    assert sandbox_main(["--scale", "fg=200,storage=50,afd=50", "--arm-write-limit", "50/1"]) == 0
    assert seen["scale"] == Scale(200, 50, 50) and seen["arm_write_limit"] == WriteLimit(50, 1.0)
    with pytest.raises(SystemExit):
        sandbox_main(["--scale", "fg=lots"])


def test_odin_sandbox_up_takes_them_too_and_names_a_bad_one(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from odin_drills.cli.main import main as odin

    seen: dict[str, Any] = {}
    monkeypatch.setattr("odin_drills.sandbox.azure.serve", lambda **options: seen.update(options) or 0)
    assert odin(["sandbox", "up", "--scale", "fg=2,afd=1", "--arm-write-limit", "5/0.5"]) == 0
    assert seen["scale"] == Scale(2, 0, 1) and seen["arm_write_limit"] == WriteLimit(5, 0.5)
    assert odin(["sandbox", "up", "--scale", "fg=lots"]) == 2
    assert "odin sandbox up: scale: fg='lots' is not a whole number" in capsys.readouterr().err
