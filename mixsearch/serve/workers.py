"""The threads that encode queries and search, apart from the event loop's.

A small pool of our own rather than Starlette's shared one (up to 40 threads): each thread sets
its BLAS / OpenMP thread count once when it starts (FAISS's OpenMP keeps that count per thread,
see `mixsearch.query_threads`), and no more queries run at once than there are cores for them, so
concurrent requests queue instead of thrashing the caches of a small machine.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mixsearch.query_threads import QUERY_THREADS
from mixsearch.query_threads import apply as apply_threads

T = TypeVar("T")
MAX_WORKERS = 8


def worker_count(threads: int | None) -> int:
    """One worker per ``threads`` cores, at least one, at most `MAX_WORKERS`."""
    per_query = threads or QUERY_THREADS
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1) // per_query))


class QueryWorkers:
    def __init__(self, threads: int | None = None) -> None:
        self.count = worker_count(threads)
        self._pool = ThreadPoolExecutor(
            max_workers=self.count,
            thread_name_prefix="mixsearch-query",
            initializer=apply_threads,
            initargs=(threads,),
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
