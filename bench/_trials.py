"""Seeded trials on a pool of worker processes, as the noise benches run them (``bench/watch_noise.py``,
``bench/seasonal_baseline.py``).

A cell's trials are cut into chunks, and every chunk draws from its own ``SeedSequence`` child
(root -> part -> cell -> chunk), so a bench's numbers depend on its seed and trial counts only: not
on the number of workers, nor on the order in which the chunks finish (a bench adds up what the
chunks return: counts, and lists it summarises without regard to their order).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

Cell = TypeVar("Cell")


def chunks(cells: Sequence[Cell], seed: np.random.SeedSequence, trials: int,
           size: int) -> Iterator[tuple[Cell, int, int, np.random.SeedSequence]]:
    """Every cell's ``trials`` in chunks of at most ``size``: ``(cell, first trial, trials, seed)``, the
    chunk's seed being its child of the cell's child of ``seed``."""
    for cell, cell_seed in zip(cells, seed.spawn(len(cells))):
        for index, chunk_seed in enumerate(cell_seed.spawn((trials + size - 1) // size)):
            first = index * size
            yield cell, first, min(size, trials - first), chunk_seed


def run_pool(calls: Sequence[tuple[Callable[..., Any], tuple]], workers: int, *,
             progress_every: int = 10) -> Iterator[Any]:
    """Each ``(function, arguments)`` run in one of ``workers`` processes, submitted in order; the
    results as they finish, with a progress line on stderr every ``progress_every`` of them."""
    started = time.time()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(function, *arguments) for function, arguments in calls]
        for done, future in enumerate(as_completed(futures), start=1):
            yield future.result()
            if done % progress_every == 0:
                print(f"{done}/{len(futures)} chunks, {time.time() - started:.0f} s", file=sys.stderr)


def trial_options(doc: str, results: str, trials: dict[str, int]) -> argparse.Namespace:
    """The noise benches' command line: ``--quick`` (a tenth of the trials), ``--workers``, one
    ``--PART N`` per part of ``trials`` (its default) and ``--out`` (default ``bench/results/RESULTS``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the trials (smoke run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    for part, default in trials.items():
        parser.add_argument(f"--{part}", type=int, default=default)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / results)
    return parser.parse_args()


def quick_divisor(args: argparse.Namespace) -> int:
    """What every trial count is divided by: 10 with ``--quick``, else 1."""
    return 10 if args.quick else 1


def trial_counts(args: argparse.Namespace, least: dict[str, int]) -> dict[str, int]:
    """Each part's trials as asked (a tenth with ``--quick``), never fewer than ``least`` says."""
    return {part: max(floor, getattr(args, part) // quick_divisor(args)) for part, floor in least.items()}
