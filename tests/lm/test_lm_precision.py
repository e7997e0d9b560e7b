"""LoRA keeps the frozen base layers in bf16 where training computes in bf16: a speed and memory
saving that must not change what the model learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.backend.conftest import write_jsonl
from tests.lm.conftest import lora_learner, requires_lm, rows

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
LINEARS_PER_BLOCK = 7  # q, k, v, o, gate, up, down


def test_frozen_layers_are_bf16_and_every_loss_is_unchanged(tmp_path: Path) -> None:
    """Every frozen linear layer of the blocks is stored in bf16 (LoRA's own weights and the
    output layer stay fp32), and four steps give bit for bit the losses of the same learner
    with those layers put back in fp32, i.e. the arithmetic autocast did before."""
    import torch

    from ftkit.backend.training.transformer.learner import bf16_supported

    data = write_jsonl(tmp_path / "t.jsonl", rows(16))
    kept, _ = lora_learner(data, tmp_path / "kept", batch_size=4, seed=5)
    upcast, _ = lora_learner(data, tmp_path / "upcast", batch_size=4, seed=5)
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
