"""The job runner: one thread in the server process that moves jobs through their states and
trains each one in a worker process.

Workers are forked from a forkserver preloaded with the trainer (`ftkit.backend.forkserver`), so
a job starts in milliseconds. Each worker holds one end of a pipe; when the server process dies
the pipe closes and the worker exits.

The database is the source of truth: jobs that were `running` when their server stopped are
found again and re-run from the beginning with the same seed, so they produce the same steps;
events are keyed, so none is recorded twice. Several servers may share one data directory:
each runner beats in the database every second, and a running job is taken over only when its
runner stopped, its process is gone, or it has not beaten for 5 s. A runner also stops its
workers when another server paused or cancelled their job.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import orjson

from ftkit.backend import lifecycle, training
from ftkit.backend.faults import FaultInjector
from ftkit.backend.forkserver import start_forkserver, start_worker
from ftkit.backend.ids import new_id
from ftkit.backend.naming import (
    LEGACY_PRICE_PER_1K,
    checkpoint_model_name,
    is_chat_model,
    job_model_name,
    legacy_model_name,
)
from ftkit.backend.records import (
    ACTIVE_STATUSES,
    CheckpointRecord,
    FileRecord,
    JobError,
    JobRecord,
    ModelRecord,
)
from ftkit.backend.results import jobs_csv, legacy_csv, metrics_event_data, metrics_message
from ftkit.backend.settings import Timing
from ftkit.backend.store import Store
from ftkit.backend.training.transformer import is_lm_model
from ftkit.backend.validation import Format, check_file, inspect_file
from ftkit.backend.worker import WorkerJob
from ftkit.data.tokens import count_tokens, get_encoding

log = logging.getLogger(__name__)

KEPT_CHECKPOINTS = 3
METRICS_EVENTS_PER_JOB = 100  # jobs dialect: at most ~this many `metrics` events (+ the last)
STOP_GRACE_S = 2.0
INTERNAL_ERROR = "The job failed due to an internal error."


@dataclass
class _Active:
    job_id: str
    process: BaseProcess
    conn: Connection
    stop_sent_at: float | None = None


class JobRunner:
    """Drives every active job; routes talk to it only through `stop_job` and `set_timing`."""

    def __init__(
        self,
        store: Store,
        *,
        timing: Timing,
        faults: FaultInjector,
        max_running: int,
        base64_results: bool,
    ) -> None:
        self.store = store
        self.timing = timing
        self.faults = faults
        self.max_running = max_running
        self.base64_results = base64_results
        self._active: dict[str, _Active] = {}
        self._commands: SimpleQueue[tuple[str, Any]] = SimpleQueue()
        self._stopping = threading.Event()
        self.id = new_id("runner-", 16)
        self._last_beat = 0.0
        self._thread = threading.Thread(target=self._loop, name="ftkit-job-runner", daemon=True)

    # called from request threads ---------------------------------------------------------------

    def start(self) -> None:
        """Start the workers' forkserver and the runner thread."""
        start_forkserver()
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and end every worker (their jobs resume on the next start)."""
        self._stopping.set()
        self._thread.join(timeout=5)
        for active in self._active.values():
            active.conn.close()
            active.process.join(timeout=1)
            if active.process.is_alive():
                active.process.kill()
                active.process.join(timeout=1)
        self._active.clear()
        self.store.forget_runner(self.id)

    def stop_job(self, job_id: str) -> None:
        """Ask the worker of a job (if any) to stop at its next step."""
        self._commands.put(("stop", job_id))

    def set_timing(self, timing: Timing) -> None:
        """Change simulated delays at once, also for jobs already training."""
        self.timing = timing
        self._commands.put(("timing", timing))

    # the runner thread -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._heartbeat()
                self._run_commands()
                self._poll_workers(timeout=0.02)
                self._advance_jobs()
            except Exception:
                log.exception("job runner iteration failed")
                time.sleep(0.2)

    def _heartbeat(self) -> None:
        """Beat every second; and stop workers whose job another server paused or cancelled."""
        now = time.monotonic()
        if now - self._last_beat < 1.0:
            return
        self._last_beat = now
        self.store.beat(self.id)
        for active in list(self._active.values()):
            job = self.store.get_job(active.job_id)
            if active.stop_sent_at is None and (job is None or job.status != "running"):
                active.stop_sent_at = now
                self._send(active, ("stop",))

    def _run_commands(self) -> None:
        while True:
            try:
                command, value = self._commands.get_nowait()
            except Empty:
                return
            if command == "stop" and value in self._active:
                active = self._active[value]
                active.stop_sent_at = time.monotonic()
                self._send(active, ("stop",))
            elif command == "timing":
                for active in self._active.values():
                    self._send(active, ("timing", value.step_delay()))

    @staticmethod
    def _send(active: _Active, message: tuple[Any, ...]) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            active.conn.send(message)

    def _poll_workers(self, timeout: float) -> None:
        if not self._active:
            time.sleep(timeout)
            return
        by_conn = {a.conn: a for a in self._active.values()}
        for conn in wait(list(by_conn), timeout=timeout):
            active = by_conn[conn]  # type: ignore[index]
            with self.store.transaction():
                while True:
                    try:
                        if not active.conn.poll():
                            break
                        message = active.conn.recv()
                    except (EOFError, OSError):
                        self._finish(active, ("crash", "the worker process exited"))
                        break
                    if self._handle(active, message):
                        break
        now = time.monotonic()
        for active in list(self._active.values()):
            if active.stop_sent_at is not None and now - active.stop_sent_at > STOP_GRACE_S:
                active.process.kill()
                self._finish(active, ("stopped",))

    def _handle(self, active: _Active, message: tuple[Any, ...]) -> bool:
        """Apply one worker message; True when the worker is done."""
        kind = message[0]
        job = self.store.get_job(active.job_id)
        if job is None:
            self._finish(active, ("stopped",))
            return True
        if kind == "step":
            self._on_step(job, message[1], int(message[2]))
            return False
        if kind == "epoch":
            self._on_epoch(job, int(message[1]), message[2], message[3])
            return False
        if kind == "resumed":
            lifecycle.trains_on(self.store, job, int(message[1]), int(message[2]))
            return False
        self._finish(active, message)
        return True

    def _on_step(self, job: JobRecord, metrics: dict[str, Any], total_steps: int) -> None:
        step = int(metrics["step"])
        self.store.put_step(job.id, step, metrics)
        if job.total_steps != total_steps:
            self.store.update_job(job.id, total_steps=total_steps)
        if job.dialect != "jobs":
            return
        every = max(1, -(-total_steps // METRICS_EVENTS_PER_JOB))
        if step % every == 0 or step == total_steps or step == 1:
            if job.started_at is not None:
                per_step = (time.time() - job.started_at) / step
                finish = int(time.time() + per_step * (total_steps - step))
                self.store.update_job(job.id, estimated_finish=finish)
            data = metrics_event_data(metrics, total_steps)
            self.store.add_event(
                job.id, f"step:{step}", metrics_message(data), type="metrics", data=data
            )

    def _on_epoch(
        self, job: JobRecord, epoch: int, checkpoint_path: str | None, metrics: dict[str, Any]
    ) -> None:
        n_epochs = int((job.resolved or {}).get("n_epochs") or job.n_epochs or 0)
        if job.dialect == "legacy":
            lifecycle.epoch_done(self.store, job, epoch, n_epochs)
            return
        if checkpoint_path is None:
            return
        step = int(metrics["step"])
        final_name = self._final_model_name(job)
        data = metrics_event_data(metrics, job.total_steps or step)
        data.pop("total_steps", None)
        self.store.add_checkpoint(
            CheckpointRecord(
                id=new_id("ftckpt_"),
                job_id=job.id,
                org=job.org,
                step=step,
                epoch=epoch,
                path=checkpoint_path,
                model=checkpoint_model_name(final_name, step),
                metrics=data,
                created_at=int(time.time()),
            )
        )
        self.store.add_event(job.id, f"checkpoint:{step}", f"Checkpoint created at step {step}")
        for old in self.store.checkpoints(job.id)[KEPT_CHECKPOINTS:]:
            self.store.delete_checkpoint(old.id)
            _remove(Path(old.path))

    def _finish(self, active: _Active, message: tuple[Any, ...]) -> None:
        self._active.pop(active.job_id, None)
        active.conn.close()
        active.process.join(timeout=1)
        kind = message[0]
        if kind == "done":
            self._succeed(active.job_id, message[1])
        elif kind == "failed":
            self._fail(
                active.job_id, JobError(code=message[1], message=message[2], param=message[3])
            )
        elif kind == "crash":
            log.error("training of %s crashed:\n%s", active.job_id, message[1])
            self._fail(active.job_id, JobError(code="server_error", message=INTERNAL_ERROR))

    def _succeed(self, job_id: str, outcome: dict[str, Any]) -> None:
        with self.store.transaction():
            job = self.store.get_job(job_id)
            if job is None or job.status != "running":
                return
            now = int(time.time())
            name = self._final_model_name(job)
            self.store.add_model(
                ModelRecord(
                    id=name,
                    org=job.org,
                    organization_id=job.organization_id,
                    job_id=job.id,
                    base_model=job.base_model,
                    path=str(outcome["model_path"]),
                    created_at=now,
                )
            )
            steps = self.store.steps(job.id)
            if job.dialect == "legacy":
                content = legacy_csv(steps, has_validation=job.validation_file is not None)
                filename = "compiled_results.csv"
            else:
                content = jobs_csv(steps, encode_base64=self.base64_results)
                filename = "step_metrics.csv"
            result = FileRecord(
                id=new_id("file-"),
                org=job.org,
                purpose="fine-tune-results",
                filename=filename,
                bytes=len(content),
                created_at=now,
            )
            self.store.add_file_bytes(result, content)
            lifecycle.succeeded(self.store, job, name, result.id)
            self.store.update_job(
                job.id,
                status="succeeded",
                fine_tuned_model=name,
                result_files=[result.id],
                trained_tokens=int(outcome.get("trained_tokens") or 0),
                finished_at=now,
            )

    def _fail(self, job_id: str, error: JobError) -> None:
        with self.store.transaction():
            job = self.store.get_job(job_id)
            if job is None or job.status not in ACTIVE_STATUSES:
                return
            lifecycle.failed(self.store, job, error)
            self.store.update_job(
                job.id, status="failed", error=error, finished_at=int(time.time())
            )

    def _final_model_name(self, job: JobRecord) -> str:
        if job.fine_tuned_model:
            return job.fine_tuned_model
        slug = job.org_slug
        if job.dialect == "legacy":
            return legacy_model_name(job.base_model, slug, job.suffix)
        return job_model_name(job.base_model, slug, job.suffix, job.model_token)

    # moving jobs along -------------------------------------------------------------------------

    def _advance_jobs(self) -> None:
        jobs = [j for j in self.store.jobs_with_status(ACTIVE_STATUSES) if j.id not in self._active]
        for job in jobs:
            if job.status == "running":
                owner = job.runner
                if owner is None or owner == self.id or not self.store.runner_alive(owner):
                    self._start(job)  # its server (or its worker) stopped or died: run it again
            elif job.status == "validating_files" or (
                job.status == "pending" and job.n_train_examples is None
            ):
                self._validate(job)
        waiting = [
            j
            for j in self.store.jobs_with_status(("pending", "queued"))
            if j.id not in self._active and j.n_train_examples is not None
        ]
        now = time.time()
        for position, job in enumerate(waiting):
            if job.queue_number is not None and position < job.queue_number:
                lifecycle.enqueued(self.store, job, position)
                self.store.update_job(job.id, queue_number=position)
            ready = now >= (job.queued_at or 0) + self.timing.queue_delay()
            if ready and len(self._active) < self.max_running:
                self._start(job)

    def _validate(self, job: JobRecord) -> None:
        wanted: Format = "chat" if is_chat_model(job.base_model) else "prompt_completion"
        checks = [("training_file", job.training_file)]
        if job.validation_file:
            checks.append(("validation_file", job.validation_file))
        n_train = 0
        for param, file_id in checks:
            path = self.store.blob_path(file_id)
            if not path.exists():
                error = JobError(
                    code=f"invalid_{param}",
                    message=f"The job failed due to an invalid {param.replace('_', ' ')}. "
                    f"File {file_id} was deleted.",
                    param=param,
                )
                self._fail(job.id, error)
                return
            inspection = inspect_file(path)
            if is_lm_model(job.base_model) and inspection.format is not None:
                wanted = inspection.format  # real language models learn from either format
            problem = check_file(
                inspection, file_id=file_id, param=param, model=job.model, wanted=wanted
            )
            if problem is not None:
                self._fail(job.id, problem)
                return
            if param == "training_file":
                n_train = inspection.examples
        with self.store.transaction():
            current = self.store.get_job(job.id)
            if current is None or current.status not in ("validating_files", "pending"):
                return
            waiting = [j.id for j in self.store.jobs_with_status(("pending", "queued"))]
            position = waiting.index(job.id) if job.id in waiting else len(waiting)
            if job.dialect == "legacy":
                lifecycle.costed(self.store, job, self._legacy_cost(job))
            lifecycle.enqueued(self.store, job, position)
            self.store.update_job(
                job.id,
                status="queued" if job.dialect == "jobs" else "pending",
                n_train_examples=n_train,
                queued_at=time.time(),
                queue_number=position,
            )

    def _legacy_cost(self, job: JobRecord) -> float:
        encoding = get_encoding("r50k_base")
        tokens = 0
        with open(self.store.blob_path(job.training_file), "rb") as handle:
            for raw in handle:
                if raw.strip():
                    line = orjson.loads(raw)
                    text = str(line.get("prompt", "")) + str(line.get("completion", ""))
                    tokens += count_tokens(text, encoding)
        price = LEGACY_PRICE_PER_1K.get(job.base_model, LEGACY_PRICE_PER_1K["curie"])
        return tokens * (job.n_epochs or 4) * price / 1000

    def _start(self, job: JobRecord) -> None:
        """Launch a job's training; a job that cannot even start fails instead of retrying."""
        try:
            self._launch(job)
        except Exception:
            log.exception("could not start the training of %s", job.id)
            self._fail(job.id, JobError(code="server_error", message=INTERNAL_ERROR))

    def _launch(self, job: JobRecord) -> None:
        hyper = training.resolve_hyperparameters(
            n_train_examples=job.n_train_examples or 0,
            n_epochs=job.n_epochs,
            batch_size=job.batch_size,
            learning_rate_multiplier=job.learning_rate_multiplier,
            prompt_loss_weight=job.prompt_loss_weight,
        )
        resolved = _as_dict(hyper)
        plan = self.faults.plan
        fail: dict[str, Any] = {}
        if job.fail_at_step is None and plan is not None and plan.fail_job_at_step is not None:
            fail = {
                "fail_at_step": plan.fail_job_at_step,
                "fail_code": plan.fail_job_code,
                "fail_message": plan.fail_job_message,
            }
        with self.store.transaction():
            current = self.store.get_job(job.id)
            if current is None or (current.status, current.runner) != (job.status, job.runner):
                return  # another runner took it meanwhile
            started = self.store.update_job(
                job.id,
                status="running",
                resolved=resolved,
                started_at=time.time(),
                runner=self.id,
                **fail,
            )
            assert started is not None
            job = started
            lifecycle.started(self.store, job)
        parent = self.store.get_model(job.parent_model, job.org) if job.parent_model else None
        request = {
            "train_path": str(self.store.blob_path(job.training_file)),
            "validation_path": str(self.store.blob_path(job.validation_file))
            if job.validation_file
            else None,
            "base_model": job.base_model,
            "parent_model_path": parent.path if parent else None,
            "hyperparameters": resolved,
            "seed": job.seed,
            "compute_classification_metrics": job.compute_classification_metrics,
            "classification_n_classes": job.classification_n_classes,
            "classification_positive_class": job.classification_positive_class,
            "classification_betas": job.classification_betas,
            "metadata": job.metadata,
        }
        spec = WorkerJob(
            job_id=job.id,
            request=request,
            out_dir=str(self.store.jobs_dir / job.id),
            step_delay_s=self.timing.step_delay(),
            fast_forward_through=self.store.last_step(job.id),
            fail_at_step=job.fail_at_step,
            fail_code=job.fail_code or "server_error",
            fail_message=job.fail_message or INTERNAL_ERROR,
        )
        process, conn = start_worker(spec)
        self._active[job.id] = _Active(job.id, process, conn)


def _as_dict(value: Any) -> dict[str, Any]:
    if hasattr(value, "model_dump"):
        return dict(value.model_dump(mode="json"))
    return dict(vars(value))


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
