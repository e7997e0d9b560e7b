"""Job milestones: each writes its event(s) in the job's dialect, with the texts of
openai-api.md §3.6 (legacy) and §5.5 (jobs). Every event has a key, so replaying a milestone
after a restart records nothing twice.

Texts the reference marks unconfirmed, chosen here: legacy failure `Fine-tune failed` (after an
error-level event with the reason); jobs dialect `The job failed: <message>`,
`Fine-tuning job cancelled`, `Fine-tuning job paused`, `Fine-tuning job resumed`,
`Checkpoint created at step N`; ftkit's own, after a restart that trains on from a saved state:
`Training resumed at step N+1/T from the state saved at step N`.
"""

from __future__ import annotations

from ftkit.backend.records import JobError, JobRecord
from ftkit.backend.store import Store


def created(store: Store, job: JobRecord) -> None:
    """The job exists (and, jobs dialect, its files are being validated)."""
    if job.dialect == "legacy":
        store.add_event(job.id, "created", f"Created fine-tune: {job.id}")
        return
    store.add_event(job.id, "created", f"Created fine-tuning job: {job.id}")
    files = f"Validating training file: {job.training_file}"
    if job.validation_file:
        files += f" and validation file: {job.validation_file}"
    store.add_event(job.id, "validating", files)


def costed(store: Store, job: JobRecord, dollars: float) -> None:
    """Legacy: the price estimate."""
    store.add_event(job.id, "costs", f"Fine-tune costs ${dollars:.2f}")


def enqueued(store: Store, job: JobRecord, queue_number: int) -> None:
    """In the queue with `queue_number` jobs ahead; legacy counts down as the queue moves."""
    if job.dialect == "jobs":
        store.add_event(job.id, "queued", "Files validated, moving job to queued state")
    elif job.queue_number is None:
        store.add_event(job.id, "enqueued", f"Fine-tune enqueued. Queue number: {queue_number}")
    else:
        store.add_event(
            job.id,
            f"queue:{queue_number}",
            f"Fine-tune is in the queue. Queue number: {queue_number}",
        )


def started(store: Store, job: JobRecord) -> None:
    """Training began."""
    text = "Fine-tune started" if job.dialect == "legacy" else "Fine-tuning job started"
    store.add_event(job.id, "started", text)


def epoch_done(store: Store, job: JobRecord, epoch: int, n_epochs: int) -> None:
    """Legacy: `Completed epoch k/n`."""
    store.add_event(job.id, f"epoch:{epoch}", f"Completed epoch {epoch}/{n_epochs}")


def succeeded(store: Store, job: JobRecord, model: str, result_file: str) -> None:
    """Model and results are stored."""
    if job.dialect == "legacy":
        store.add_event(job.id, "model", f"Uploaded model: {model}")
        store.add_event(job.id, "result", f"Uploaded result file: {result_file}")
        store.add_event(job.id, "succeeded", "Fine-tune succeeded")
        return
    store.add_event(job.id, "model", f"New fine-tuned model created: {model}")
    store.add_event(job.id, "succeeded", "The job has successfully completed")


def failed(store: Store, job: JobRecord, error: JobError) -> None:
    """The job failed with `error`."""
    if job.dialect == "legacy":
        store.add_event(job.id, "error", error.message, level="error")
        store.add_event(job.id, "failed", "Fine-tune failed", level="error")
        return
    store.add_event(job.id, "failed", f"The job failed: {error.message}", level="error")


def cancelled(store: Store, job: JobRecord) -> None:
    """The user cancelled the job."""
    text = "Fine-tune cancelled" if job.dialect == "legacy" else "Fine-tuning job cancelled"
    store.add_event(job.id, "cancelled", text)


def paused(store: Store, job: JobRecord, count: int) -> None:
    """Jobs dialect: paused (the `count`-th time)."""
    store.add_event(job.id, f"paused:{count}", "Fine-tuning job paused")


def resumed(store: Store, job: JobRecord, count: int) -> None:
    """Jobs dialect: resumed (the `count`-th time)."""
    store.add_event(job.id, f"resumed:{count}", "Fine-tuning job resumed")


def trains_on(store: Store, job: JobRecord, step: int, total_steps: int) -> None:
    """Training restarted from the state its learner saved after `step` (not from step 1)."""
    text = f"Training resumed at step {step + 1}/{total_steps} from the state saved at step {step}"
    store.add_event(job.id, f"trains-on:{step}", text)
