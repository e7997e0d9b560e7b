"""The official `openai` SDK pointed at the backend: files, jobs, models, completions, retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.backend.conftest import DONE, SEPARATOR, chat_rows, write_jsonl


@pytest.fixture
def sdk(backend: Any) -> Iterator[openai.OpenAI]:
    """An SDK client on the backend (fast retries come from the server's retry-after-ms)."""
    with openai.OpenAI(base_url=backend.url, api_key="sk-unused", max_retries=2) as client:
        yield client


def wait(sdk: openai.OpenAI, job_id: str, statuses: tuple[str, ...]) -> Any:
    """Poll with the SDK until the job status is one of `statuses`."""
    import time

    deadline = time.monotonic() + 30
    while (job := sdk.fine_tuning.jobs.retrieve(job_id)).status not in statuses:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job


def test_files_through_the_sdk(sdk: openai.OpenAI, train_file: Path) -> None:
    """create, retrieve, list, content, delete."""
    file = sdk.files.create(file=train_file, purpose="fine-tune")
    assert file.filename == "train.jsonl" and file.status == "processed"
    assert sdk.files.retrieve(file.id).bytes == train_file.stat().st_size
    assert [f.id for f in sdk.files.list(purpose="fine-tune")] == [file.id]
    assert sdk.files.content(file.id).content == train_file.read_bytes()
    assert sdk.files.delete(file.id).deleted is True
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.files.retrieve(file.id)
    assert caught.value.request_id.startswith("req_")


def test_fine_tuning_jobs_through_the_sdk(
    backend: Any, sdk: openai.OpenAI, train_file: Path, valid_file: Path
) -> None:
    """create, list (metadata filter), retrieve, list_events, checkpoints, pause, resume, cancel."""
    train = sdk.files.create(file=train_file, purpose="fine-tune")
    valid = sdk.files.create(file=valid_file, purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model="babbage-002",
        training_file=train.id,
        validation_file=valid.id,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
        suffix="sdk",
        seed=3,
        metadata={"run_key": "abc"},
    )
    assert job.status == "validating_files" and job.seed == 3
    assert [j.id for j in sdk.fine_tuning.jobs.list(metadata={"run_key": "abc"})] == [job.id]
    assert list(sdk.fine_tuning.jobs.list(metadata={"run_key": "zzz"})) == []
    done = wait(sdk, job.id, DONE)
    assert done.status == "succeeded" and done.fine_tuned_model.startswith(
        "ft:babbage-002:personal:sdk:"
    )
    events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=5))
    assert events[0].message == "The job has successfully completed"
    assert any(e.type == "metrics" for e in events)
    checkpoints = list(sdk.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in checkpoints] == [240, 180, 120]
    assert checkpoints[0].metrics.train_loss is not None

    backend.set_timing(step_seconds=0.02)
    second = sdk.fine_tuning.jobs.create(model="babbage-002", training_file=train.id)
    wait(sdk, second.id, ("running",))
    assert sdk.fine_tuning.jobs.pause(second.id).status == "paused"
    assert sdk.fine_tuning.jobs.resume(second.id).status == "queued"
    assert sdk.fine_tuning.jobs.cancel(second.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        sdk.fine_tuning.jobs.cancel(second.id)


def test_models_and_completions_through_the_sdk(
    sdk: openai.OpenAI, train_file: Path, tmp_path: Path
) -> None:
    """models list/retrieve/delete, completions with logprobs, chat completions."""
    train = sdk.files.create(file=train_file, purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(model="davinci-002", training_file=train.id)
    model = wait(sdk, job.id, DONE).fine_tuned_model
    assert model in [m.id for m in sdk.models.list()]
    assert sdk.models.retrieve(model).owned_by == "org-personal"
    completion = sdk.completions.create(
        model=model,
        prompt=["superb and great" + SEPARATOR, "awful" + SEPARATOR],
        max_tokens=1,
        temperature=0,
        logprobs=2,
    )
    assert [c.text for c in completion.choices] == [" positive", " negative"]
    assert completion.choices[0].logprobs.top_logprobs[0][" positive"] < 0

    chat_file = sdk.files.create(
        file=write_jsonl(tmp_path / "c.jsonl", chat_rows(20)), purpose="fine-tune"
    )
    chat_job = sdk.fine_tuning.jobs.create(model="gpt-3.5-turbo", training_file=chat_file.id)
    chat_model = wait(sdk, chat_job.id, DONE).fine_tuned_model
    reply = sdk.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "What is the capital of Japan?"}],
        temperature=0,
    )
    assert reply.choices[0].message.content == "Tokyo"
    assert sdk.models.delete(model).deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.completions.create(model=model, prompt="x")


def test_sdk_retries_injected_rate_limits_and_drops(backend: Any, sdk: openai.OpenAI) -> None:
    """The SDK retries 429s (after retry-after-ms) and dropped connections, then succeeds."""
    backend.set_faults(error_rate=1.0, retry_after_ms=10, count=2)
    backend.reset_stats()
    assert sdk.models.list().data
    assert backend.stats()["counts"]["GET /v1/models"] == 3
    backend.set_faults(drop_rate=1.0, count=1)
    assert sdk.models.retrieve("babbage-002").id == "babbage-002"
    backend.set_faults(quota=True)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.with_options(max_retries=0).models.list()
    assert caught.value.code == "insufficient_quota"
