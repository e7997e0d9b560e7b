"""Examples as token tensors: prompt + completion + end token, padded to a few fixed lengths.

Each example is `prompt ids + completion ids + [eos]`; a completion token weighs 1 in the loss,
a prompt token `prompt_loss_weight` (its first token is never predicted). Chat examples are
rendered with the tokenizer's own chat template (the same one serving uses); prompt/completion
examples are the plain texts. Too-long examples lose prompt tokens from the left.

Batches are padded on the right to the smallest of `BUCKETS` that fits: oneDNN builds kernels
per shape, and batches of ever-new lengths made the first steps ~3x slower. Neighbouring lengths
are at most 1.5x apart, so padding never doubles a batch: three quickstart batches held one
ticket of 68-71 tokens each and cost 3.5-6 s at 128 tokens, 2.4-3.3 s at 96.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ftkit.backend.training.examples import Dataset

BUCKETS = (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
MAX_LENGTH = BUCKETS[-1]


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> str:
    """A conversation as the model's chat template renders it, ending where the assistant
    speaks (the model's own default system message is added when there is none)."""
    return str(
        tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    )


@dataclass
class TokenizedSplit:
    """One data split as token ids (see the module docstring); `completions` keeps the texts."""

    prompts: list[list[int]]
    completions_ids: list[list[int]]
    completions: list[str]
    n_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.completions)


def tokenize_split(tokenizer: Any, dataset: Dataset) -> TokenizedSplit:
    """Tokenize every example of a dataset (chat examples through the chat template)."""
    eos = int(tokenizer.eos_token_id)
    prompts, completions = [], []
    for example in dataset.examples:
        text = (
            render_prompt(tokenizer, example.messages)
            if example.messages is not None
            else example.prompt
        )
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        completion = [*tokenizer(example.completion, add_special_tokens=False)["input_ids"], eos]
        completion = completion[:MAX_LENGTH]
        prompts.append(prompt[max(0, len(prompt) + len(completion) - MAX_LENGTH) :])
        completions.append(completion)
    n_tokens = np.array([len(p) + len(c) for p, c in zip(prompts, completions, strict=True)])
    return TokenizedSplit(prompts, completions, [e.completion for e in dataset.examples], n_tokens)


@dataclass
class Batch:
    """Padded ids, attention mask, and per-position loss weights of the *next* token."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    targets: torch.Tensor  # the token each position predicts (0 where nothing is predicted)
    weights: torch.Tensor  # loss weight of each prediction (0: padding / not predicted)
    completion: torch.Tensor  # bool: the prediction is a completion token
    example: torch.Tensor  # row of each position's example in the batch


def bucket(length: int) -> int:
    """The smallest fixed length that holds `length` tokens."""
    return next((b for b in BUCKETS if b >= length), MAX_LENGTH)


def make_batch(
    prompts: Sequence[Sequence[int]],
    completions: Sequence[Sequence[int]],
    prompt_loss_weight: float,
    pad_id: int,
) -> Batch:
    """Right-padded tensors for these examples (see `Batch`)."""
    width = bucket(max(len(p) + len(c) for p, c in zip(prompts, completions, strict=True)))
    rows = len(prompts)
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    targets = torch.zeros((rows, width), dtype=torch.long)
    weights = torch.zeros((rows, width))
    completion = torch.zeros((rows, width), dtype=torch.bool)
    for row, (prompt, answer) in enumerate(zip(prompts, completions, strict=True)):
        sequence = torch.tensor([*prompt, *answer], dtype=torch.long)
        n, p = len(sequence), len(prompt)
        ids[row, :n] = sequence
        mask[row, :n] = 1
        # position i predicts token i + 1
        targets[row, : n - 1] = sequence[1:]
        weights[row, : p - 1] = prompt_loss_weight
        weights[row, max(p - 1, 0) : n - 1] = 1.0
        completion[row, max(p - 1, 0) : n - 1] = True
    example = torch.arange(rows).unsqueeze(1).expand(rows, width)
    return Batch(ids, mask, targets, weights, completion, example)
