"""The demo's admin request log: what changed the demo, stamped when the router received it.

``bench/time_to_act.py`` times a breach to its undo from this log, so the stamps must be taken on
arrival, on the system-wide monotonic clock another process can compare with, and reads must not
fill it. Every demo started here is stopped in a ``finally``.
"""

from __future__ import annotations

import time

import httpx

from odin_drills.sandbox.bluegreen import BlueGreenDemo


def test_the_log_stamps_changes_on_arrival_and_leaves_reads_out() -> None:
    demo = BlueGreenDemo(seed=3, port=0, latency_median_ms=0).start()
    try:
        with httpx.Client(base_url=demo.router_url, timeout=10) as http:
            before = time.monotonic()
            assert http.put("/_admin/weights", json={"blue": 0, "green": 100}).status_code == 200
            middle = time.monotonic()
            assert http.post("/_admin/faults", json={"version": "green", "error_rate": 1.0}).status_code == 201
            assert http.put("/_admin/weights", json={"blue": 101, "green": 0}).status_code == 400
            after = time.monotonic()
            http.get("/_admin/weights")
            http.get("/_admin/requests")
            log = http.get("/_admin/requests").json()["requests"]
    finally:
        demo.stop()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("PUT", "/_admin/weights", 200), ("POST", "/_admin/faults", 201), ("PUT", "/_admin/weights", 400)]
    assert log[0]["body"] == {"blue": 0, "green": 100}
    stamps = [e["received_monotonic"] for e in log]
    assert before <= stamps[0] <= middle <= stamps[1] <= stamps[2] <= after  # one clock across threads
