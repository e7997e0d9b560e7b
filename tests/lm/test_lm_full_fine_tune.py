"""Full fine-tuning of SmolLM2 (job metadata `ftkit_lm_method: full`) through the official
openai SDK: it learns, and it is served as its own model, not as an adapter on the base."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.backend.conftest import write_jsonl
from tests.lm.conftest import LM_BASE_MODEL, greedy, requires_lm, rows, supervised, wait_done

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]


def test_a_full_fine_tune_learns_and_is_served_as_its_own_model(
    sdk: openai.OpenAI, lm_backend: Any, tmp_path: Path
) -> None:
    """20 steps training every weight: the last steps' loss is under half the first ones', the
    greedy answers become the taught tags, and the fine-tune is a whole model of its own (no
    adapter is added to the served base, which answers as before)."""
    from ftkit.backend.training.transformer.serving import registry

    words = ("apple", "plum", "hammer", "rake")
    before = [greedy(sdk, LM_BASE_MODEL, w) for w in words]
    adapters = dict(registry().adapters)
    train = sdk.files.create(file=write_jsonl(tmp_path / "t.jsonl", rows()), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model=LM_BASE_MODEL,
        training_file=train.id,
        method=supervised(n_epochs=1, batch_size=2, learning_rate_multiplier=0.3),
        seed=3,
        metadata={"ftkit_lm_method": "full"},
    )
    job = wait_done(sdk, job.id)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model is not None
    table = base64.b64decode(sdk.files.content(job.result_files[0]).content).decode()
    losses = [float(r["train_loss"]) for r in csv.DictReader(io.StringIO(table))]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 / 2

    after = [greedy(sdk, job.fine_tuned_model, w) for w in words]
    assert [a.strip() for a in after] == ["zig", "zig", "zag", "zag"], after
    assert registry().adapters == adapters
    assert [greedy(sdk, LM_BASE_MODEL, w) for w in words] == before
    model_dir = Path(lm_backend.settings.data_dir) / "jobs" / job.id / "model"
    assert json.loads((model_dir / "ftkit-lm.json").read_text())["method"] == "full"
    assert (model_dir / "model.safetensors").is_file()
    assert not (model_dir / "adapter_config.json").exists()


def test_an_unknown_method_is_refused_at_creation(sdk: openai.OpenAI, tmp_path: Path) -> None:
    """`ftkit_lm_method` other than lora/full: a 400 naming the field, and no job is made."""
    train = sdk.files.create(file=write_jsonl(tmp_path / "t.jsonl", rows()), purpose="fine-tune")
    jobs_before = [j.id for j in sdk.fine_tuning.jobs.list()]
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.fine_tuning.jobs.create(
            model=LM_BASE_MODEL, training_file=train.id, metadata={"ftkit_lm_method": "qlora"}
        )
    assert refused.value.status_code == 400
    assert refused.value.param == "metadata"
    assert refused.value.body["message"] == (
        'metadata.ftkit_lm_method must be "lora" or "full", not \'qlora\'.'
    )
    assert [j.id for j in sdk.fine_tuning.jobs.list()] == jobs_before
