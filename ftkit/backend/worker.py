"""The training worker process: runs one job through `ftkit.backend.training.train` and reports
each step to the server over a pipe.

Messages to the server: ("step", metrics, total_steps), ("epoch", epoch, checkpoint_path,
metrics), ("done", outcome), ("stopped",), ("failed", code, message, param), ("crash", text).
Messages from the server: ("stop",) and ("timing", step_delay_s). When the pipe closes (the
server died) the worker exits at once, so no worker outlives its server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ftkit.backend import training


@dataclass
class WorkerJob:
    """What the worker needs: the training request and the simulated behaviour."""

    job_id: str
    request: dict[str, Any]
    out_dir: str
    step_delay_s: float = 0.0
    fast_forward_through: int = 0  # steps already recorded before a restart: no delay for them
    fail_at_step: int | None = None
    fail_code: str = "server_error"
    fail_message: str = "The job failed due to an internal error."


class ScriptedFailure(Exception):
    """A failure injected at a given step (fault injection)."""


def as_dict(value: Any) -> dict[str, Any]:
    """A pydantic model or a flat dataclass (StepMetrics) as a plain dict.

    Shallow for a dataclass: the pipe pickles it anyway, and `dataclasses.asdict` deep-copies
    every field (~15% of the quickstart's training time, one call per step).
    """
    if hasattr(value, "model_dump"):
        return dict(value.model_dump(mode="json"))
    return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}


class _Hooks:
    """The `TrainingHooks` the trainer calls: forward progress, honour stop and delays."""

    def __init__(self, job: WorkerJob, conn: Connection) -> None:
        self.job = job
        self.conn = conn
        self.stop = threading.Event()
        self.step_delay_s = job.step_delay_s

    def listen(self) -> None:
        """Read server commands until the pipe closes; a closed pipe ends the process."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                os._exit(3)
            if message[0] == "stop":
                self.stop.set()
            elif message[0] == "timing":
                self.step_delay_s = float(message[1])

    def on_step(self, metrics: Any, total_steps: int) -> None:
        data = as_dict(metrics)
        step = int(data["step"])
        if self.job.fail_at_step is not None and step >= self.job.fail_at_step:
            raise ScriptedFailure(self.job.fail_message.format(step=step))
        self.conn.send(("step", data, total_steps))
        if step > self.job.fast_forward_through and self.step_delay_s > 0:
            self.stop.wait(self.step_delay_s)

    def on_epoch_end(self, epoch: int, checkpoint_path: Path | str | None, metrics: Any) -> None:
        path = str(checkpoint_path) if checkpoint_path is not None else None
        self.conn.send(("epoch", epoch, path, as_dict(metrics)))

    def on_resume(self, step: int, total_steps: int) -> None:
        self.conn.send(("resumed", step, total_steps))

    def should_stop(self) -> bool:
        return self.stop.is_set()


def _job_folder(path: Path) -> Path:
    """The job's output folder, emptied unless it holds a resume state to train on from.

    Done here, not by the server: the trainer that knows the layout loads scikit-learn, which
    the forkserver has preloaded but the server process would import (~1 s) before every first
    job started."""
    from ftkit.backend.training.trainer import RESUME_DIR

    if not (path / RESUME_DIR).is_dir():
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_job(job: WorkerJob, conn: Connection) -> None:
    """Process entry point: train, report the outcome, exit."""
    # The backend owns this process, not the terminal or the Prefect runner of the process that
    # hosts the backend: a SIGINT/SIGTERM sent to that process group (Ctrl-C, a cancelled flow
    # run) must not kill the training and fail the job. The backend stops it itself (`stop()`),
    # and it exits on its own when the backend's end of the pipe closes.
    os.setsid()
    hooks = _Hooks(job, conn)
    threading.Thread(target=hooks.listen, daemon=True, name="ftkit-worker-listen").start()
    try:
        request = training.TrainingRequest.model_validate(job.request)
        outcome = training.train(request, hooks, _job_folder(Path(job.out_dir)))
        message: tuple[Any, ...] = ("done", as_dict(outcome))
    except training.TrainingStopped:
        message = ("stopped",)
    except training.TrainingDataError as exc:
        message = ("failed", exc.code, exc.message, exc.param)
    except ScriptedFailure as exc:
        message = ("failed", job.fail_code, str(exc), None)
    except Exception:
        message = ("crash", traceback.format_exc())
    if hooks.stop.is_set() and message[0] != "done":
        message = ("stopped",)
    with contextlib.suppress(BrokenPipeError, OSError):
        conn.send(message)
    conn.close()
