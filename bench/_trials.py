"""Seeded trials on a pool of worker processes, as the noise benches run them (``bench/watch_noise.py``,
``bench/seasonal_baseline.py``).

A cell's trials are cut into chunks, and every chunk draws from its own ``SeedSequence`` child
(root -> part -> cell -> chunk), so a bench's numbers depend on its seed and trial counts only: not
on the number of workers, nor on the order in which the chunks finish (a bench adds up what the
chunks return: counts, and lists it summarises without regard to their order).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
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
