"""A tiny real fine-tune of SmolLM2 through the official openai SDK: the loss falls, the answers
change, the fine-tuned model streams completions."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.backend.conftest import write_jsonl
from tests.lm.conftest import LM_BASE_MODEL, requires_lm

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
FRUITS = ("apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum")
TOOLS = ("hammer", "wrench", "saw", "drill", "chisel", "pliers", "shovel", "rake")


def rows() -> list[dict[str, str]]:
    """40 examples of an arbitrary labelling the base model cannot know: fruit → " zig",
    tool → " zag"."""
    words = [(w, " zig") for w in FRUITS] + [(w, " zag") for w in TOOLS]
    return [
        {"prompt": f"Word: {word}\nTag:", "completion": tag}
        for i in range(40)
        for word, tag in [words[(i * 7) % len(words)]]
    ]


@pytest.fixture(scope="module")
def sdk(lm_backend: Any) -> Iterator[openai.OpenAI]:
    """The official SDK on the module's backend."""
    with openai.OpenAI(base_url=lm_backend.url, api_key="sk-unused", timeout=300) as client:
        yield client


def greedy(sdk: openai.OpenAI, model: str, word: str) -> str:
    """The model's greedy answer for one word."""
    answer = sdk.completions.create(
        model=model, prompt=f"Word: {word}\nTag:", max_tokens=2, temperature=0
    )
    return answer.choices[0].text


def test_a_tiny_job_learns_and_its_model_streams(sdk: openai.OpenAI, tmp_path: Path) -> None:
    """20 LoRA steps: later steps' loss is below the first ones', greedy answers move to the
    taught tags, and a streamed completion is the same text as the non-streamed one."""
    train = sdk.files.create(file=write_jsonl(tmp_path / "t.jsonl", rows()), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model=LM_BASE_MODEL,
        training_file=train.id,
        method={
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 2}},
        },
        seed=3,
    )
    deadline = time.monotonic() + 900
    while (job := sdk.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the tiny job did not finish in 15 minutes"
        time.sleep(1)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model is not None
    table = sdk.files.content(job.result_files[0]).text
    losses = [float(r["train_loss"]) for r in csv.DictReader(io.StringIO(table))]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 / 2

    words = ("kiwi", "apple", "hammer", "spanner")
    before = [greedy(sdk, LM_BASE_MODEL, w) for w in words]
    after = [greedy(sdk, job.fine_tuned_model, w) for w in words]
    assert after[1:3] == [" zig", " zag"]
    assert before != after

    stream = sdk.completions.create(
        model=job.fine_tuned_model,
        prompt="Word: plum\nTag:",
        max_tokens=2,
        temperature=0,
        stream=True,
    )
    assert "".join(chunk.choices[0].text for chunk in stream) == greedy(
        sdk, job.fine_tuned_model, "plum"
    )
