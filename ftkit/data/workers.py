"""Run a function over chunks of lines, in order, in forked worker processes when it pays."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")
PARALLEL_MIN_BYTES = 8 << 20  # smaller files finish before worker start-up pays off

_job: tuple[Callable[..., Any], Any] | None = None


def _init(function: Callable[..., Any], setup: Any) -> None:
    global _job
    _job = (function, setup)


def _call(*args: Any) -> Any:
    assert _job is not None
    function, setup = _job
    return function(setup, *args)


def map_in_order(
    function: Callable[..., R], setup: Any, jobs: Iterator[tuple[Any, ...]], *, parallel: bool
) -> Iterator[R]:
    """`function(setup, *job)` for every job, results in job order.

    With `parallel`, jobs run in one worker process per core; at most two jobs per worker are
    in flight, so memory stays a few chunks however large the file is.
    """
    workers = os.cpu_count() or 1
    if not parallel or workers < 2:
        for job in jobs:
            yield function(setup, *job)
        return
    # fork is fast (the parent's imports and data are inherited) but unsafe when other threads
    # may hold locks, e.g. inside a Prefect task runner; then start clean interpreters instead.
    method = "fork" if threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(workers, context, _init, (function, setup)) as pool:
        pending: list[Future[R]] = []
        for job in jobs:
            pending.append(pool.submit(_call, *job))
            if len(pending) > 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
