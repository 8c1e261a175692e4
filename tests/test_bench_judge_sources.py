"""Issue 10, time to judge one window per metric source: the bench's smallest configuration runs.

``bench/judge_sources.py`` at 100 req/s only, a 4 s window scraped every 0.5 s, three repetitions:
a real Prometheus (its own process, stopped by PID in the bench's ``finally``; this test checks it
is gone), the Azure sandbox's Log Analytics endpoint in this process, and the synthetic probe's
in-process judgement. Every source must give a row with positive timings and read the window's
requests. The full run and its figures: bench/results/judge_sources.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.judge_sources import SOURCES, run
from tests.monitoring_servers import binary
from tests.test_bench_time_to_act import _alive


def test_the_smallest_configuration_gives_a_row_per_source_with_positive_timings(tmp_path: Path) -> None:
    binary("prometheus")  # skips (fails under CI) without the Debian package, as the Prometheus tests do
    info_before = os.environ.get("ODIN_SANDBOX_INFO")
    out = tmp_path / "judge_sources.md"

    result = run(rates=[100], windows=[4], reps=3, scrape=0.5, out=out)

    rows = {row["source"]: row for row in result["rows"]}
    assert sorted(rows) == sorted(SOURCES) and len(result["rows"]) == len(SOURCES)
    for source, row in rows.items():
        assert (row["rate"], row["window"], row["reps"]) == (100, 4, 3), row
        assert row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"], row
        assert row["read_median_ms"] >= 0 and row["evaluate_median_ms"] > 0, row
        assert row["decisions"], row
    assert rows["azure_monitor"]["requests_read"] == rows["synthetic_probe"]["requests_read"] == 400
    assert rows["azure_monitor_metrics"]["requests_read"] == 400  # the platform metrics count the same rows
    assert 300 <= rows["prometheus"]["requests_read"] <= 500  # increase() extrapolates over the scrapes
    text = out.read_text()
    for source in SOURCES:
        assert f"| {source} | 100 | 4 | " in text
    assert result["pids"] and not any(_alive(pid) for pid in result["pids"])  # Prometheus stopped by its PID
    assert os.environ.get("ODIN_SANDBOX_INFO") == info_before
