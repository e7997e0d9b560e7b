"""LoRA keeps the frozen base layers in bf16 where training computes in bf16: a speed and memory
saving that must not change what the model learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ftkit.backend import training
from ftkit.backend.training.examples import read_dataset
from ftkit.backend.training.transformer.learner import (
    TransformerLearner,
    bf16_supported,
    prepare_transformer,
)
from tests.backend.conftest import write_jsonl
from tests.lm.conftest import LM_BASE_MODEL, requires_lm, rows

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
LINEARS_PER_BLOCK = 7  # q, k, v, o, gate, up, down


def lora_learner(data: Path, state_dir: Path) -> TransformerLearner:
    """A fresh LoRA learner on `data` (batches of 4, seed 5)."""
    hyperparameters = training.resolve_hyperparameters(16, n_epochs=1, batch_size=4)
    learner, _, _ = prepare_transformer(
        base_model=LM_BASE_MODEL,
        train_data=read_dataset(data),
        valid_data=None,
        hyperparameters=hyperparameters,
        seed=5,
        metadata=None,
        parent=None,
        state_dir=state_dir,
    )
    return learner


def test_frozen_layers_are_bf16_and_every_loss_is_unchanged(tmp_path: Path) -> None:
    """Every frozen linear layer of the blocks is stored in bf16 (LoRA's own weights and the
    output layer stay fp32), and four steps give bit for bit the losses of the same learner
    with those layers put back in fp32, i.e. the arithmetic autocast did before."""
    data = write_jsonl(tmp_path / "t.jsonl", rows(16))
    kept = lora_learner(data, tmp_path / "kept")
    upcast = lora_learner(data, tmp_path / "upcast")
    frozen = [
        module
        for name, module in upcast.model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.endswith("base_layer")
    ]
    for module in frozen:
        module.weight.data = module.weight.data.float()

    dtypes = {p.dtype for n, p in kept.model.named_parameters() if "base_layer" in n}
    n_blocks = kept.model.get_base_model().config.num_hidden_layers
    assert len(frozen) == LINEARS_PER_BLOCK * n_blocks
    assert dtypes == {torch.bfloat16 if bf16_supported() else torch.float32}
    assert {p.dtype for p in kept.model.parameters() if p.requires_grad} == {torch.float32}
    assert kept.model.get_base_model().lm_head.weight.dtype == torch.float32

    batches = np.arange(16).reshape(4, 4)
    assert [kept.step(b).loss for b in batches] == [upcast.step(b).loss for b in batches]
