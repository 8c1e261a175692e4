"""Issue 14: one ARM write budget per subscription, shared by every action of the process.

Each failover action builds its own ``AzureSession``; the shared policy (``steps.azure.throttle``)
makes them behave as one client towards ARM's write limit: after any 429, no write of that
subscription is sent before its Retry-After has elapsed, and writes are paced by the budget ARM
reports. Against a throttling sandbox, concurrent actions (each with its own session, as in a drill
wave) all complete and send **no** write that ignores a Retry-After; the same load through plain SDK
clients does, which shows the sandbox's count bites.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import httpx
from azure.mgmt.sql import SqlManagementClient
from pytest import approx

from conftest import QUICK_CLIENTS, STEPS
from odin_drills.plan.models import SandboxTarget
from odin_drills.sandbox.azure import AzureSandbox, SandboxCredential
from odin_drills.steps.actions import run_action
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.throttle import (REMAINING_HEADER as REMAINING, SharedThrottlePolicy,
                                              SubscriptionBudget, budget_for, reset_budgets, retry_after_seconds)
from odin_drills.steps.clock import ManualClock

FAST = {"replication_lag_seconds": 0.2, "lro_retry_after": 0, "probe_interval_seconds": 0.2,
        "probe_timeout_seconds": 0.5}
RG = "rg-odin-drills"


def test_retry_after_is_read_as_azure_core_reads_it() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.250"}) == 0.25
    assert retry_after_seconds({"x-ms-retry-after-ms": "40"}) == 0.04
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after_seconds({}) is None


def test_a_429_holds_every_writer_of_the_subscription_until_its_retry_after() -> None:
    budget = SubscriptionBudget()
    budget.acquire()  # the first write probes alone
    budget.release(200, {"x-ms-ratelimit-remaining-subscription-writes": "10"})
    budget.acquire()
    budget.release(429, {"Retry-After": "0.3"})
    started: list[float] = []

    def writer() -> None:
        budget.acquire()
        started.append(time.monotonic())
        budget.release(200, {"x-ms-ratelimit-remaining-subscription-writes": "10"})

    t0 = time.monotonic()
    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(started) == 4 and min(started) - t0 >= 0.28  # nobody wrote before the Retry-After elapsed


def test_a_spent_budget_lets_one_write_at_a_time() -> None:
    budget = SubscriptionBudget()
    budget.acquire()
    budget.release(200, {"x-ms-ratelimit-remaining-subscription-writes": "1"})
    budget.acquire()  # the last of the budget
    blocked = threading.Event()

    def second() -> None:
        budget.acquire()
        blocked.set()
        budget.release(200, {"x-ms-ratelimit-remaining-subscription-writes": "5"})

    thread = threading.Thread(target=second)
    thread.start()
    try:
        assert not blocked.wait(0.2)  # spent, one in flight: the next waits for its answer
        budget.release(200, {"x-ms-ratelimit-remaining-subscription-writes": "0"})
        assert blocked.wait(2)  # then it goes alone
    finally:
        thread.join(5)


def test_every_client_of_a_subscription_carries_the_one_shared_budget() -> None:
    sandbox = AzureSandbox(seed=11, **FAST).start()
    try:
        info = sandbox.info()
        target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])
        with AzureSession(target) as one, AzureSession(target) as two:
            policies = [[p for p in client._client._pipeline._impl_policies if isinstance(p, SharedThrottlePolicy)]
                        for client in (one.sql(), two.storage(), two.cdn())]
            assert all(len(found) == 1 for found in policies)
            assert {id(found[0].budget) for found in policies} == {id(budget_for(info["arm_url"], info["subscription_id"]))}
    finally:
        sandbox.stop()


def _failover_actions(info: dict[str, Any]) -> list[Any]:
    scaled = info["scaled_resources"]
    sql = [STEPS.validate_python({"kind": "azure.sql.failover", "name": f"sql {i.rsplit('/', 1)[-1]}",
                                  "failover_group": i, "to_server": i.rsplit("/failoverGroups/", 1)[0].replace(
                                      "odin-sql-eastus", "odin-sql-westus"), "mode": "planned"})
           for i in scaled["failover_groups"]]
    storage = [STEPS.validate_python({"kind": "azure.storage.failover", "name": f"storage {i.rsplit('/', 1)[-1]}",
                                      "account": i, "to_region": "westus", "mode": "planned"})
               for i in scaled["storage_accounts"]]
    return sql + storage


def test_concurrent_actions_against_a_throttling_sandbox_all_complete_and_never_ignore_retry_after() -> None:
    reset_budgets()
    # a refill of 2 writes a second: slower than an action's round trip, so the bucket does run dry
    sandbox = AzureSandbox(seed=12, scale="fg=8,storage=2", arm_write_limit="4/2", **FAST).start()
    try:
        info = sandbox.info()
        target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])

        def act(step: Any) -> Any:
            with AzureSession(target, **QUICK_CLIENTS) as session, httpx.Client() as client:  # one per action
                return run_action(step, client=client, clock=ManualClock(), target=session)

        actions = _failover_actions(info)
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(act, actions))
        assert [o.status for o in outcomes] == ["ok"] * 10, [o.detail for o in outcomes if o.status != "ok"]
        stats = sandbox.throttle_stats()
        assert stats is not None and stats["throttled"] >= 1  # the limit did bite ...
        assert stats["ignored_retry_after"] == 0, stats  # ... and no write came before its Retry-After
        state = sandbox.state()
        assert all(state["failover_groups"][f"fog-{i:04d}"]["primary_region"] == "westus" for i in range(1, 9))
        assert all(state["storage_accounts"][f"odinst{i:04d}"]["primary_region"] == "westus" for i in range(1, 3))
    finally:
        sandbox.stop()
        reset_budgets()


def test_the_same_load_through_plain_sdk_clients_ignores_retry_after() -> None:
    """The control: without the shared budget each client waits only for its own 429."""
    sandbox = AzureSandbox(seed=13, scale="fg=16", arm_write_limit="4/0.4", **FAST).start()
    try:
        info = sandbox.info()

        def fail_over(name: str) -> None:
            with SqlManagementClient(SandboxCredential(), info["subscription_id"], base_url=info["arm_url"],
                                     connection_verify=info["ca_cert"], polling_interval=0, retry_total=200,
                                     retry_status=200) as sql:
                sql.failover_groups.begin_failover(RG, "odin-sql-westus", name).result()

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fail_over, [f"fog-{i:04d}" for i in range(1, 17)]))
        stats = sandbox.throttle_stats()
        assert stats is not None and stats["ignored_retry_after"] > 0, stats
    finally:
        sandbox.stop()


class _Answers:
    """The rest of the pipeline, scripted: one (status, headers) per send."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.sent = 0

    def send(self, request: Any) -> Any:
        status, headers = self.answers.pop(0)
        self.sent += 1
        return SimpleNamespace(http_response=SimpleNamespace(status_code=status, headers=headers))


def _post() -> Any:
    return SimpleNamespace(http_request=SimpleNamespace(method="POST", body=b"{}"))


def test_the_policy_resends_a_throttled_write_after_its_retry_after_and_hands_on_one_without() -> None:
    policy = SharedThrottlePolicy(SubscriptionBudget())
    policy.next = _Answers((429, {"Retry-After": "0.2"}), (202, {REMAINING: "9"}))
    started = time.monotonic()
    assert policy.send(_post()).http_response.status_code == 202  # the SDK never saw the 429
    assert policy.next.sent == 2 and time.monotonic() - started >= 0.19 and policy.budget.throttled == 1
    policy.next = _Answers((429, {}))
    assert policy.send(_post()).http_response.status_code == 429  # no Retry-After: the SDK's backoff decides
    assert policy.next.sent == 1
    read = SimpleNamespace(http_request=SimpleNamespace(method="GET", body=None))
    policy.next = _Answers((200, {}))
    assert policy.send(read).http_response.status_code == 200  # reads pass straight through


def test_pacing_learns_the_refill_from_a_429_and_forgets_a_spent_budget_once_one_is_reported() -> None:
    now = [0.0]
    budget = SubscriptionBudget(clock=lambda: now[0])
    budget.acquire()
    budget.release(202, {REMAINING: "0"})  # spent at t=0
    now[0] = 0.05
    budget.acquire()  # probes alone
    budget.release(429, {"Retry-After": "0.2"})  # one write's refill = 0.05 already done + 0.2 to come
    assert budget._refill_interval == approx(0.25) and budget._hold_until == approx(0.25)
    now[0] = 0.3
    budget.acquire()
    budget.release(202, {REMAINING: "0"})  # spent again: the next write waits one refill
    assert budget._hold_until == approx(0.55)
    now[0] = 100.0
    budget.acquire()
    budget.release(202, {REMAINING: "7"})  # budget again: the old "spent" moment is forgotten
    budget.acquire()
    now[0] = 500.0
    budget.release(429, {"Retry-After": "1"})  # other clients spent it: no stale 400-s pause is learned
    assert budget._refill_interval == approx(1.0)
