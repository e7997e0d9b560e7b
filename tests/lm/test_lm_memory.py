"""A LoRA step reuses the memory the step before it freed: with glibc's defaults every block
over 32 MB (the logits of a batch are ~190 MB) came back from the kernel as fresh pages, one
page fault each, and a step spent ~1 s of its ~2.3 s in the kernel.

Measured in a process of its own, as a training worker is: the heap left behind by the tests
before it (servers, other learners) made the count vary in this one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend.conftest import write_jsonl
from tests.lm.conftest import FRUITS, requires_lm

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
ROOT = Path(__file__).resolve().parents[2]
STORY = "A customer wrote to support about an order that arrived late and damaged. " * 4
STEPS = """
import resource, sys
from pathlib import Path
import numpy as np
from tests.lm.conftest import lora_learner

learner, split = lora_learner(Path(sys.argv[1]), Path(sys.argv[2]), batch_size=16, seed=0)
assert len({int(n) for n in split.n_tokens}) <= 2 and max(split.n_tokens) <= 64
batch = np.arange(16)
learner.step(batch)
learner.step(batch)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
learner.step(batch)
learner.step(batch)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) * resource.getpagesize())
"""


def test_steps_after_the_first_take_no_fresh_memory_from_the_kernel(tmp_path: Path) -> None:
    """Batches of 16 examples of ~60 tokens (one fixed width): once two steps have run, the
    next two together fault in under 400 MB of new pages (0-95 MB seen), where glibc's defaults
    fault in over 2 GB (each step's logits alone are ~190 MB)."""
    rows = [{"prompt": f"{STORY}Word: {w}\nTag:", "completion": " zig"} for w in FRUITS * 4]
    data = write_jsonl(tmp_path / "t.jsonl", rows)
    done = subprocess.run(
        [sys.executable, "-c", STEPS, str(data), str(tmp_path / "state")],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    faulted = int(done.stdout.split()[-1])
    assert faulted < 400 * 2**20, f"{faulted / 2**20:.0f} MB of fresh pages in two steps"
