"""A LoRA step reuses the memory the step before it freed: with glibc's defaults every block
over 32 MB (the logits of a batch are ~190 MB) came back from the kernel as fresh pages, one
page fault each, and a step spent ~1 s of its ~2.3 s in the kernel."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import pytest

from ftkit.backend import training
from ftkit.backend.training.examples import read_dataset
from ftkit.backend.training.transformer.learner import prepare_transformer
from tests.backend.conftest import write_jsonl
from tests.lm.conftest import FRUITS, LM_BASE_MODEL, requires_lm

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
PAGE = resource.getpagesize()
STORY = "A customer wrote to support about an order that arrived late and damaged. " * 4


def test_steps_after_the_first_take_no_fresh_memory_from_the_kernel(tmp_path: Path) -> None:
    """Batches of 16 examples of ~60 tokens (one fixed width): once two steps have run, the
    next two together fault in under 40 MB of new pages, where each step's logits alone are
    ~190 MB."""
    rows = [{"prompt": f"{STORY}Word: {w}\nTag:", "completion": " zig"} for w in FRUITS * 4]
    data = write_jsonl(tmp_path / "t.jsonl", rows)
    learner, split, _ = prepare_transformer(
        base_model=LM_BASE_MODEL,
        train_data=read_dataset(data),
        valid_data=None,
        hyperparameters=training.resolve_hyperparameters(32, n_epochs=1, batch_size=16),
        seed=0,
        metadata=None,
        parent=None,
        state_dir=tmp_path / "state",
    )
    assert len({int(n) for n in split.n_tokens}) <= 2 and max(split.n_tokens) <= 64
    batch = np.arange(16)
    learner.step(batch)
    learner.step(batch)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    learner.step(batch)
    learner.step(batch)
    faulted = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) * PAGE
    assert faulted < 40 * 2**20, f"{faulted / 2**20:.0f} MB of fresh pages in two steps"
