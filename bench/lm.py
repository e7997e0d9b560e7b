"""Language-model benchmark (needs the `lm` extra): ftkit's transformer learner and sampler
against plain Hugging Face on the same data and settings, in one run.

1. Training tokens/s: LoRA r=8 on every linear layer, the quickstart tickets (completion-only
   loss), batches of 16 padded alike (ftkit to its buckets 32/48/64/96/128, the peer to a multiple
   of 16: the same widths up to 64 tokens), bf16 autocast where the CPU supports it, the same
   learning rate; ftkit's `TransformerLearner.step` vs `transformers.Trainer` + PEFT. Tokens are
   the examples' real (unpadded) tokens; both timings include the first steps.
2. Generation tokens/s: greedy completions of the same prompts from the same weights (bf16
   where the CPU computes in bf16, as served), ftkit's sampler (with logprobs, as the server
   computes them) vs `model.generate`.

Target: ftkit ≥ 1.0x the peer's training throughput.
Run: nice .venv/bin/python bench/lm.py [--examples 256] [--prompts 8] [--new-tokens 32]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
from transformers import trainer as hf_trainer

from ftkit.backend.sampling import SamplingParams, generate
from ftkit.backend.training.examples import read_dataset
from ftkit.backend.training.transformer import LM_BASE_MODEL, weights
from ftkit.backend.training.transformer.batches import tokenize_split
from ftkit.backend.training.transformer.generation import HFTokenizer, LMGenerator
from ftkit.backend.training.transformer.learner import (
    BASE_LEARNING_RATE,
    LORA_ALPHA,
    LORA_RANK,
    TransformerLearner,
    bf16_supported,
    serving_dtype,
)

DATA = Path(__file__).resolve().parent.parent / "datasets" / "support_tickets.jsonl"
BATCH = 16
LEARNING_RATE = BASE_LEARNING_RATE["lora"] * 0.1


def sample_file(n: int, folder: Path) -> Path:
    """The first `n` tickets as a training file."""
    lines = DATA.read_text().splitlines()[:n]
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def ftkit_training(path: Path, folder: Path) -> tuple[float, int, float]:
    """(seconds, tokens, last loss) of one epoch with the transformer learner."""
    tokenizer = weights.load_tokenizer()
    split = tokenize_split(tokenizer, read_dataset(path))
    steps = -(-len(split) // BATCH)
    learner = TransformerLearner(
        base_model=LM_BASE_MODEL,
        data_format="prompt_completion",
        method="lora",
        learning_rate=LEARNING_RATE,
        prompt_loss_weight=0.0,
        total_steps=steps,
        seed=0,
        train_split=split,
        parent=None,
        state_dir=folder / "state",
    )
    order = np.random.default_rng(0).permutation(len(split))
    started = time.perf_counter()
    loss = 0.0
    for start in range(0, len(split), BATCH):
        loss = learner.step(order[start : start + BATCH]).loss
    return time.perf_counter() - started, int(split.n_tokens.sum()), loss


class _Rows(torch.utils.data.Dataset[dict[str, list[int]]]):
    def __init__(self, split: Any) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        prompt, answer = self.split.prompts[i], self.split.completions_ids[i]
        return {
            "input_ids": [*prompt, *answer],
            "attention_mask": [1] * (len(prompt) + len(answer)),
            "labels": [-100] * len(prompt) + list(answer),
        }


def hf_training(path: Path, folder: Path) -> tuple[float, int, float]:
    """(seconds, tokens, last loss) of one epoch with transformers' Trainer + PEFT."""
    tokenizer = weights.load_tokenizer()
    split = tokenize_split(tokenizer, read_dataset(path))
    model = weights.load_base(torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(
            r=LORA_RANK,
            lora_alpha=LORA_ALPHA,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    args = TrainingArguments(
        output_dir=str(folder / "hf"),
        per_device_train_batch_size=BATCH,
        num_train_epochs=1,
        learning_rate=LEARNING_RATE,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        bf16=bf16_supported(),
        use_cpu=not torch.cuda.is_available(),
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    # the repository's datasets/ folder imports as a namespace package named `datasets`, which
    # Trainer then takes for Hugging Face's (not installed) and asks for its Dataset class
    hf_trainer.is_datasets_available = lambda: False  # type: ignore[attr-defined]
    collator = DataCollatorForSeq2Seq(tokenizer, pad_to_multiple_of=16, label_pad_token_id=-100)
    trainer = Trainer(model=model, args=args, train_dataset=_Rows(split), data_collator=collator)
    started = time.perf_counter()
    result = trainer.train()
    return time.perf_counter() - started, int(split.n_tokens.sum()), float(result.training_loss)


def generation(prompts: list[str], new_tokens: int) -> tuple[float, float, int]:
    """(ftkit seconds, peer seconds, tokens each) for greedy completions of `prompts`."""
    hf_tokenizer = weights.load_tokenizer()
    model = weights.load_base(serving_dtype())  # both sides: the weights the server serves
    tokenizer = HFTokenizer(hf_tokenizer)
    generator = LMGenerator(tokenizer, threading.Lock(), lambda: model)
    ids = [tokenizer.encode_ordinary(p) for p in prompts]
    params = SamplingParams(max_tokens=new_tokens, temperature=0.0, logprobs=0)
    generate(generator, ids[:1], params)  # warm-up
    started = time.perf_counter()
    generate(generator, ids, params)
    ours = time.perf_counter() - started
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16_supported()):
        model.generate(torch.tensor([ids[0]]), max_new_tokens=2, do_sample=False)
        started = time.perf_counter()
        for prompt in ids:
            model.generate(
                torch.tensor([prompt]),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
            )
        theirs = time.perf_counter() - started
    return ours, theirs, new_tokens * len(prompts)


def _ignore_warnings() -> None:
    warnings.filterwarnings("ignore")


def in_fresh_process(
    training: Callable[[Path, Path], tuple[float, int, float]], path: Path, folder: Path
) -> tuple[float, int, float]:
    """Run one side's training in a process of its own: neither inherits the other's kernels
    built per shape, nor ftkit's malloc settings (see `transformer.allocation`)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, spawn, initializer=_ignore_warnings) as pool:
        return pool.submit(training, path, folder).result()


def main() -> None:
    """Run both comparisons and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; bf16 {bf16_supported()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = sample_file(args.examples, folder)
        weights.converted_dir()
        ours, tokens, our_loss = in_fresh_process(ftkit_training, path, folder)
        theirs, _, their_loss = in_fresh_process(hf_training, path, folder)
    print(
        f"training, {args.examples} examples ({tokens} tokens), batch {BATCH}: "
        f"ftkit {tokens / ours:,.0f} tok/s ({ours:.1f} s, last loss {our_loss:.3f}); "
        f"Trainer+PEFT {tokens / theirs:,.0f} tok/s ({theirs:.1f} s, mean loss {their_loss:.3f}); "
        f"ratio {theirs / ours:.2f}x (target >= 1.0x)"
    )
    prompts = [line for line in DATA.read_text().splitlines()[: args.prompts]]
    ours_g, theirs_g, n = generation(prompts, args.new_tokens)
    print(
        f"generation, {args.prompts} prompts x {args.new_tokens} tokens greedy: "
        f"ftkit {n / ours_g:,.1f} tok/s (with logprobs); model.generate {n / theirs_g:,.1f} tok/s; "
        f"ratio {theirs_g / ours_g:.2f}x"
    )
    training_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory: training {training_peak:,.0f} MB (the larger side), generation "
        f"{peak:,.0f} MB; load now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
