"""A migration's canary writes (``canary:``): data loss and corruption detected from real writes
through the real demo service, whose green version can run on an empty database or read the shared
one through a broken conversion (``sandbox/bluegreen/orders.py``). The last test runs the whole
migration through the CLI and a real Prefect server: a cut-over to an unmigrated database rolls
back at once, with no gate window. Every demo is stopped in a ``with``/``finally``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from odin_drills.plan.migration_canary import MigrationCanary
from odin_drills.sandbox.bluegreen import BlueGreenDemo
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.data_canary import DataCanary
from odin_drills.steps.journal import Journal
from tests.test_migration_e2e import journal, kinds, migrate, write_plan
from tests.test_signal_plan_fields import errors


def canary_spec(url: str, **changes: object) -> dict:
    return {"url": f"{url}/api/orders", "read_url": f"{url}/api/orders/{{id}}", **changes}


def cut_over(green_store: str, tmp_path: Path) -> tuple[str | None, list, dict]:
    """Three writes through blue, all traffic to green, every write read back."""
    with BlueGreenDemo(seed=3, port=0, error_rate=0.0, latency_median_ms=0, green_store=green_store) as demo, \
            httpx.Client(timeout=5) as client:
        clock = ScaledClock(scale=1)
        book = Journal(tmp_path / "journal.jsonl", clock)
        canary = DataCanary(MigrationCanary.model_validate(canary_spec(demo.router_url)), book, clock, client=client)
        assert canary.write("t0", "cut-over") == 3
        demo.set_weights(blue=0, green=100)
        reason = canary.check("t0", "cut-over")
        verified = [e.data for e in book.entries("canary_verified")]
        acknowledged = [e.data for e in book.entries("canary_acknowledged")]
        return reason, verified, {"acknowledged": acknowledged, "demo": demo.stats()}


def test_a_cut_over_on_the_shared_database_reads_every_write_back(tmp_path: Path):
    reason, verified, seen = cut_over("shared", tmp_path)
    assert reason is None
    assert verified == [{"acknowledged": 3, "verified": 3, "lost": 0, "corrupted": 0, "unreadable": 0, "lost_ids": []}]
    assert [w["seq"] for w in seen["acknowledged"]] == [0, 1, 2]
    assert len({w["sha256"] for w in seen["acknowledged"]}) == 3  # unique payloads


def test_a_cut_over_to_an_unmigrated_database_is_data_loss(tmp_path: Path):
    reason, verified, seen = cut_over("empty", tmp_path)
    ids = [w["write_id"] for w in seen["acknowledged"]]
    assert reason is not None and reason.startswith(
        f"data loss: 3 of 3 acknowledged canary writes are gone after cut-over (404: {', '.join(ids)}); read back from http")
    assert verified[0]["lost"] == 3 and verified[0]["lost_ids"] == ids


def test_a_broken_conversion_is_data_corruption(tmp_path: Path):
    reason, verified, _ = cut_over("corrupt", tmp_path)
    assert reason is not None and reason.startswith("data corruption: 3 of 3 acknowledged canary writes read back changed")
    assert verified[0]["corrupted"] == 3 and verified[0]["lost"] == 0


def test_writes_the_service_refused_were_never_promised(tmp_path: Path):
    """Blue failing every write: nothing acknowledged, so nothing can be lost; the failures are journaled."""
    with BlueGreenDemo(seed=3, port=0, error_rate=0.0, latency_median_ms=0) as demo, httpx.Client(timeout=5) as client:
        demo.add_fault("blue", error_rate=1.0)
        clock = ScaledClock(scale=1)
        book = Journal(tmp_path / "journal.jsonl", clock)
        canary = DataCanary(MigrationCanary.model_validate(canary_spec(demo.router_url)), book, clock, client=client)
        assert canary.write("t0", "cut-over") == 0
        assert canary.check("t0", "cut-over") is None
    states = [e.data for e in book.entries("canary_state")]
    assert states and states[0]["state"] == "failing" and "500" in states[0]["reason"]
    assert not book.entries("canary_verified")


def test_a_canary_read_url_without_its_id_is_one_line(tmp_path: Path):
    lines = errors(tmp_path, canary={"url": "http://shop/api/orders", "read_url": "http://shop/api/orders"})
    assert len(lines) == 1 and "canary.read_url: must contain {id}" in lines[0], lines


@pytest.fixture
def unmigrated_shop():
    with BlueGreenDemo(seed=11, port=0, error_rate=0.10, latency_median_ms=30, green_store="empty") as demo:
        yield demo


def test_the_migration_rolls_back_now_when_the_cut_over_loses_data(tmp_path: Path, odin_env: dict, unmigrated_shop):
    """Through the CLI and Prefect: the canary read-back after shift-100 finds blue's orders gone
    (green's database was never migrated) and rolls back at once, before the step's gate watches."""
    url = unmigrated_shop.router_url
    weights = f"{url}/_admin/weights"
    t0 = [{"name": "shift-100", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 0, "green": 100},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}}]
    plan = write_plan(tmp_path, url, t0=t0, extra={"canary": canary_spec(url, writes_per_step=4)})
    result = migrate(plan, odin_env)
    assert result.returncode == 3, result.stderr[-3000:]
    assert unmigrated_shop.weights() == {"blue": 100, "green": 0}  # undone
    entries = journal(odin_env, "shop-move")
    acked = kinds(entries, "canary_acknowledged")
    assert 1 <= len(acked) <= 4 and all(e["step"] == "shift-100" for e in acked)  # 10 % of writes fail naturally
    decision = kinds(entries, "decision")[0]["data"]
    assert decision["action"] == "rollback_now", decision
    assert decision["reason"].startswith(f"data loss: {len(acked)} of {len(acked)} acknowledged canary writes are gone "
                                         "after shift-100 (404: ")
    assert not [g for g in kinds(entries, "gate") if g["phase"] == "t0" and isinstance(g["data"]["window"], int)]
    first_write = entries.index(acked[0])
    intent = next(i for i, e in enumerate(entries) if e["kind"] == "step_intent" and e["step"] == "shift-100")
    assert first_write < intent  # written, and journaled, before the step acted
