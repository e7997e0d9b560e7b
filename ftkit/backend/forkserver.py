"""The forkserver that training workers are forked from, preloaded with the trainer.

Workers come from a `forkserver` context whose server process preloads the trainer
(`ftkit.backend.worker_preload`), so a job starts in milliseconds without forking the threaded
server process (fork is unsafe there) and without a cold interpreter per job (spawn costs
~1.5 s of imports). `start_forkserver` starts it ahead of the first job: `ftkit run` calls it
before it loads Prefect, so the preload runs on the other core meanwhile.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing import forkserver, spawn
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.backend.worker import WorkerJob

_launching = threading.local()
_original_preparation_data = spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """multiprocessing's preparation data, minus the parent's `__main__` for our workers.

    A new process normally re-imports the parent's main script, which re-runs any script that
    lacks an `if __name__ == "__main__":` guard. Workers need nothing from `__main__`, so the
    processes this module starts skip it; other users of multiprocessing are unaffected.
    """
    data: dict[str, Any] = _original_preparation_data(name)
    if getattr(_launching, "active", False):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


spawn.get_preparation_data = _preparation_data


WORKER_PRELOAD = ["ftkit.backend.worker_preload"]


def _forkserver() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    return context


def start_forkserver() -> None:
    """Start the workers' forkserver unless it runs: its imports run in the background (on
    another core) while the caller goes on, instead of delaying the first job."""
    _forkserver()
    _launching.active = True
    try:
        forkserver.ensure_running()
    finally:
        _launching.active = False


def start_worker(spec: WorkerJob) -> tuple[BaseProcess, Connection]:
    """Fork a worker from the preloaded forkserver; returns it and the server's pipe end."""
    from ftkit.backend.worker import run_job

    context = _forkserver()
    parent_conn, child_conn = context.Pipe()
    process = context.Process(
        target=run_job, args=(spec, child_conn), name=f"ftkit-train-{spec.job_id}", daemon=True
    )
    _launching.active = True
    try:
        process.start()
    finally:
        _launching.active = False
    child_conn.close()
    return process, parent_conn
