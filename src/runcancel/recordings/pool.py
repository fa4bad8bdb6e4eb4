"""Many files read at once: one worker process per core when there are enough files to pay for it.

Reading and judging a file is pure (a path in, a picklable report out), so a folder of thousands of
cassettes is split over the machine's cores in file order; below `PARALLEL_FROM` files, or on one
core, everything stays in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["PARALLEL_FROM", "map_files"]

T = TypeVar("T")
R = TypeVar("R")
PARALLEL_FROM = 200


def map_files(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """`[fn(item) for item in items]`, in order, over worker processes when it is worth it."""
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(items) >= PARALLEL_FROM else 1
    if workers <= 1 or len(items) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(item) for item in items]
    chunk = max(1, len(items) // (workers * 8))
    context = multiprocessing.get_context("fork")  # the workers inherit the loaded modules: no start-up
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(fn, items, chunksize=chunk))
