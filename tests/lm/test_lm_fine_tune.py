"""Real fine-tunes of SmolLM2: through the official openai SDK against `ftkit serve`'s backend
on loopback (the loss falls, the answers change, the fine-tune streams and is an adapter on the
shared base weights), paused and resumed over HTTP, and resumed from the last checkpoint."""

from __future__ import annotations

import base64
import csv
import io
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ftkit.backend import training
from tests.backend.conftest import write_jsonl
from tests.lm.conftest import LM_BASE_MODEL, greedy, requires_lm, rows, supervised, wait_done

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]


def test_a_tiny_job_learns_streams_and_shares_the_base(sdk: openai.OpenAI, tmp_path: Path) -> None:
    """20 LoRA steps: the last steps' loss is under half the first ones', greedy answers become
    the taught tags while the base still answers as before, a streamed completion is the same
    text as the non-streamed one, and the fine-tune is an adapter on the served base weights."""
    from ftkit.backend.training.transformer.serving import registry

    words = ("kiwi", "apple", "hammer", "spanner")
    before = [greedy(sdk, LM_BASE_MODEL, w) for w in words]
    adapters = len(registry().adapters)
    train = sdk.files.create(file=write_jsonl(tmp_path / "t.jsonl", rows()), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model=LM_BASE_MODEL,
        training_file=train.id,
        method=supervised(n_epochs=1, batch_size=2, learning_rate_multiplier=0.2),
        seed=3,
    )
    job = wait_done(sdk, job.id)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model is not None
    table = base64.b64decode(sdk.files.content(job.result_files[0]).content).decode()
    losses = [float(r["train_loss"]) for r in csv.DictReader(io.StringIO(table))]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 / 2

    after = [greedy(sdk, job.fine_tuned_model, w) for w in words]
    assert all(answer.strip() in ("zig", "zag") for answer in after), after
    assert not any(answer.strip().startswith(("zig", "zag")) for answer in before), before
    assert [greedy(sdk, LM_BASE_MODEL, w) for w in words] == before
    # loaded on demand, as one more adapter on the one copy of the base
    assert len(registry().adapters) == adapters + 1

    stream = sdk.completions.create(
        model=job.fine_tuned_model,
        prompt="Word: plum\nTag:",
        max_tokens=3,
        temperature=0,
        stream=True,
    )
    assert "".join(chunk.choices[0].text for chunk in stream) == greedy(
        sdk, job.fine_tuned_model, "plum"
    )


def test_a_job_pauses_resumes_and_cancels(
    sdk: openai.OpenAI, lm_backend: Any, tmp_path: Path
) -> None:
    """Paused mid-training, the job keeps its resume state; resumed, it finishes with every step
    recorded once. A second job is cancelled while it trains."""
    train = sdk.files.create(file=write_jsonl(tmp_path / "t.jsonl", rows(48)), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model=LM_BASE_MODEL,
        training_file=train.id,
        method=supervised(n_epochs=1, batch_size=2),
        seed=5,
    )
    with httpx.Client(base_url=lm_backend.url, timeout=60) as api:

        def steps() -> list[int]:
            events = api.get(f"/fine_tuning/jobs/{job.id}/events", params={"limit": 1000})
            return [e["data"]["step"] for e in events.json()["data"] if e["type"] == "metrics"]

        deadline = time.monotonic() + 300
        while len(steps()) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert sdk.fine_tuning.jobs.pause(job.id).status == "paused"
        resume_state = Path(lm_backend.settings.data_dir) / "jobs" / job.id / "resume"
        assert (resume_state / "state.pt").is_file()
        assert sdk.fine_tuning.jobs.resume(job.id).status in ("queued", "running")
        assert wait_done(sdk, job.id).status == "succeeded"
        assert sorted(steps()) == list(range(1, 25))

    other = sdk.fine_tuning.jobs.create(
        model=LM_BASE_MODEL, training_file=train.id, method=supervised(n_epochs=3, batch_size=2)
    )
    assert sdk.fine_tuning.jobs.cancel(other.id).status == "cancelled"
    assert wait_done(sdk, other.id).fine_tuned_model is None


class _Recorder(training.NoHooks):
    """Records each step's loss; stops training after `stop_after` steps."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.losses: dict[int, float] = {}
        self.stop_after = stop_after

    def on_step(self, metrics: Any, total_steps: int) -> None:
        self.losses[metrics.step] = metrics.train_loss

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.losses) >= self.stop_after


def test_a_stopped_job_trains_on_from_its_last_checkpoint(tmp_path: Path) -> None:
    """Stopped after 5 of 12 steps (a server going down), training restarted on the same folder
    runs only steps 6-12, and they are the steps an uninterrupted run takes."""
    path = write_jsonl(tmp_path / "t.jsonl", rows(24))
    request = training.TrainingRequest(
        train_path=path,
        base_model=LM_BASE_MODEL,
        hyperparameters=training.resolve_hyperparameters(24, n_epochs=1, batch_size=2),
        seed=1,
    )
    whole = _Recorder()
    training.train(request, whole, tmp_path / "whole")
    first = _Recorder(stop_after=5)
    with pytest.raises(training.TrainingStopped):
        training.train(request, first, tmp_path / "job")
    second = _Recorder()
    outcome = training.train(request, second, tmp_path / "job")
    assert sorted(first.losses) == [1, 2, 3, 4, 5]
    assert sorted(second.losses) == list(range(6, 13))
    assert outcome.total_steps == 12
    assert second.losses == pytest.approx({s: whole.losses[s] for s in second.losses}, rel=1e-3)
