"""The transformer learner: SmolLM2-135M-Instruct fine-tuned with LoRA (default) or fully.

How the API's settings map onto training:
- method: LoRA (PEFT) rank 8, alpha 16, no dropout, on every linear layer of the transformer
  blocks; job metadata `{"ftkit_lm_method": "full"}` trains every weight instead.
- learning rate = `learning_rate_multiplier` × a base rate: 2e-2 for LoRA, 1e-3 for full
  fine-tuning (the auto multiplier 0.1 for batches of 4-63 gives 2e-3 and 1e-4); AdamW without
  weight decay, linear decay to 0 over the job's steps (as transformers' Trainer does).
- `batch_size` examples per optimizer step; `n_epochs` passes; `seed` sets the data order and
  torch's generator; `prompt_loss_weight` weighs prompt tokens in the loss (0: completion only).
- CUDA when present; otherwise the CPU with bf16 autocast where the CPU has bf16 instructions
  (AVX512-BF16 or AMX), else fp32. What trains stays fp32; under bf16 autocast LoRA's frozen
  base layers are stored in bf16 (`keep_frozen_linears_in_bf16`).

Checkpoints are folders: the LoRA adapter (or the full weights) plus `ftkit-lm.json`. Every
validation interval (an eighth of an epoch) LoRA's trainable weights and the optimizer state are
saved as the job's resume state (full fine-tuning: at epoch ends only, 1.6 GB each); a job that
stops (pause, server restart) trains on from there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model

from ftkit.backend.training.examples import Dataset, TrainingDataError
from ftkit.backend.training.metrics import BatchScore
from ftkit.backend.training.transformer import METHOD_KEY, method_error, weights
from ftkit.backend.training.transformer.allocation import reuse_freed_memory
from ftkit.backend.training.transformer.batches import (
    Batch,
    TokenizedSplit,
    make_batch,
    tokenize_split,
)

Method = Literal["lora", "full"]
BASE_LEARNING_RATE: dict[str, float] = {"lora": 2e-2, "full": 1e-3}
LORA_RANK = 8
LORA_ALPHA = 16
META_FILE = "ftkit-lm.json"
STATE_FILE = "state.pt"  # in the job's resume folder
EVAL_BATCH = 32


def device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_supported() -> bool:
    """bf16 autocast pays: a CUDA GPU that supports it, or a CPU with bf16 instructions."""
    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def serving_dtype() -> torch.dtype:
    """Weights for inference only: bf16 where bf16 autocast is on (nothing left to cast per
    forward pass), else fp32. Training keeps fp32 master weights for what it trains."""
    return torch.bfloat16 if bf16_supported() else torch.float32


def keep_frozen_linears_in_bf16(model: Any) -> None:
    """Store the frozen weights of the transformer blocks' linear layers in bf16 (LoRA's base
    layers).

    Under bf16 autocast every forward pass cast them from fp32 anyway, so the arithmetic is
    unchanged (the same losses to the last bit) while each step skips casting ~120 M weights:
    LoRA steps of 16 tickets took 2.3-2.4 s instead of 2.8-3.2 s on a 2-core CPU, with 240 MB less
    memory. The output layer (tied to the input embedding, which stays fp32) is left alone:
    a bf16 copy of it did not pay. Only where autocast is on: fp32 arithmetic cannot mix dtypes.
    """
    if not bf16_supported():
        return
    for name, module in model.named_modules():
        frozen = isinstance(module, torch.nn.Linear) and not module.weight.requires_grad
        if frozen and "lm_head" not in name:
            module.weight.data = module.weight.data.to(torch.bfloat16)


def autocast() -> Any:
    """The autocast context training and scoring run under (a no-op for fp32)."""
    return torch.autocast(device().type, dtype=torch.bfloat16, enabled=bf16_supported())


def resolve_method(metadata: dict[str, str] | None) -> Method:
    """LoRA unless job metadata asks for full fine-tuning; anything else is a clear error
    (job creation refuses it first; this guards jobs recorded before that check)."""
    problem = method_error(metadata)
    if problem is not None:
        raise TrainingDataError("invalid_metadata", problem, "metadata")
    return "full" if (metadata or {}).get(METHOD_KEY) == "full" else "lora"


@contextlib.contextmanager
def quiet_peft_wrapping() -> Iterator[None]:
    """Wrap a model in PEFT without transformers 5's FutureWarning that `is_gradient_checkpointing`
    is deprecated: PeftModel's constructor (PEFT 0.21) reads that property to decide on
    gradient checkpointing, which we do not use, and the warning reached users' terminals.
    Only that warning, only while wrapping, is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def write_meta(path: Path, base_model: str, method: str, data_format: str) -> None:
    """Mark a folder as a servable checkpoint of `base_model`."""
    meta = {"base_model": base_model, "method": method, "format": data_format}
    (path / META_FILE).write_text(json.dumps(meta))


def read_meta(path: Path) -> dict[str, str]:
    """The metadata of a checkpoint folder."""
    return dict(json.loads((path / META_FILE).read_text()))


class TransformerLearner:
    """One fine-tuning run of the language model (see the module docstring)."""

    kind = "transformer"

    def __init__(
        self,
        *,
        base_model: str,
        data_format: str,
        method: Method,
        learning_rate: float,
        prompt_loss_weight: float,
        total_steps: int,
        seed: int,
        train_split: TokenizedSplit,
        parent: Path | None,
        state_dir: Path,
    ) -> None:
        torch.manual_seed(seed)
        torch.set_num_threads(os.cpu_count() or 1)
        reuse_freed_memory()
        self.tokenizer = weights.load_tokenizer()
        self.base_model, self.data_format, self.method = base_model, data_format, method
        self.plw = prompt_loss_weight
        self.split = train_split
        self.state_dir = state_dir
        model = weights.load_base(torch.float32)
        if method == "full" and parent is not None and read_meta(parent)["method"] == "full":
            model = weights.load_full(parent, torch.float32)
        if method == "lora":
            with quiet_peft_wrapping():
                if parent is not None and read_meta(parent)["method"] == "lora":
                    model = PeftModel.from_pretrained(model, parent, is_trainable=True)
                else:
                    config = LoraConfig(
                        r=LORA_RANK,
                        lora_alpha=LORA_ALPHA,
                        lora_dropout=0.0,
                        target_modules="all-linear",
                        task_type="CAUSAL_LM",
                    )
                    model = get_peft_model(model, config)
            keep_frozen_linears_in_bf16(model)
        self.model = model.to(device())
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda done: max(0.0, 1.0 - done / max(1, total_steps))
        )
        self.resumed_step = self._restore()

    # the learner interface ---------------------------------------------------------------------

    def step(self, rows: np.ndarray) -> BatchScore:
        """Score the batch with the weights as they are (the same forward pass), then learn."""
        batch = self._batch(self.split, rows)
        self.model.train()
        with autocast():
            loss, score = self._loss(batch)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return score

    def evaluate(self, split: TokenizedSplit, rows: np.ndarray) -> BatchScore:
        """Scores on any split, without learning."""
        self.model.eval()
        totals = np.zeros(6)
        for start in range(0, len(rows), EVAL_BATCH):
            batch = self._batch(split, rows[start : start + EVAL_BATCH])
            with torch.inference_mode(), autocast():
                totals += self._sums(batch)
        return _score(totals)

    def class_probabilities(self, split: TokenizedSplit) -> tuple[list[str], np.ndarray]:
        """Each label's share of the model's probability of the label continuations."""
        labels = sorted(set(split.completions) | set(self.split.completions))
        eos = int(self.tokenizer.eos_token_id)
        label_ids = [
            [*self.tokenizer(label, add_special_tokens=False)["input_ids"], eos] for label in labels
        ]
        prompts = [p for p in split.prompts for _ in labels]
        answers = [ids for _ in split.prompts for ids in label_ids]
        self.model.eval()
        logps = []
        for start in range(0, len(prompts), EVAL_BATCH):
            batch = make_batch(
                prompts[start : start + EVAL_BATCH],
                answers[start : start + EVAL_BATCH],
                0.0,
                self._pad_id(),
            )
            with torch.inference_mode(), autocast():
                logps.append(self._sequence_logprobs(batch))
        scores = torch.cat(logps).view(len(split), len(labels)).double()
        return labels, torch.softmax(scores, dim=1).numpy()

    def save(self, path: Path) -> Path:
        """A servable checkpoint folder at `path` (adapter or full weights + metadata)."""
        staging = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        if self.method == "lora":
            self.model.save_pretrained(staging)
        else:
            # a bf16 copy (tied weights stay one tensor): casting the model itself to bf16 and
            # back rounded the fp32 master weights that training goes on from
            copies: dict[int, torch.Tensor] = {}
            bf16 = {
                name: copies.setdefault(t.data_ptr(), t.to(torch.bfloat16))
                for name, t in self.model.state_dict().items()
            }
            self.model.save_pretrained(staging, state_dict=bf16, safe_serialization=True)
            self.tokenizer.save_pretrained(staging)
        write_meta(staging, self.base_model, self.method, self.data_format)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(staging, path)
        return path

    def save_state(self, step: int, epoch_end: bool) -> None:
        """Trainable weights + optimizer + schedule at `step`, for a restart to resume from."""
        if self.method == "full" and not epoch_end:
            return
        trainable = {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}
        state = {
            "step": step,
            "weights": trainable,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        # written aside, then renamed over the previous state in one step: a process killed at
        # any moment leaves one whole state to resume from
        self.state_dir.mkdir(parents=True, exist_ok=True)
        staging = self.state_dir / f".{STATE_FILE}.tmp"
        torch.save(state, staging)
        os.replace(staging, self.state_dir / STATE_FILE)

    # internals ---------------------------------------------------------------------------------

    def _restore(self) -> int:
        """Load the resume state if there is one; the step it was saved at (else 0)."""
        path = self.state_dir / STATE_FILE
        if not path.is_file():
            return 0
        state = torch.load(path, weights_only=True)
        named = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state["weights"].items():
                named[name].copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        return int(state["step"])

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    def _batch(self, split: TokenizedSplit, rows: np.ndarray) -> Batch:
        return make_batch(
            [split.prompts[i] for i in rows],
            [split.completions_ids[i] for i in rows],
            self.plw,
            self._pad_id(),
        )

    def _token_logprobs(self, batch: Batch, where: torch.Tensor) -> tuple[Any, Any]:
        """Log-probabilities of the predicted tokens at the `where` positions, and whether each
        was the model's most probable token. The output layer runs only at those positions."""
        lm: Any = self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model
        dev = device()
        hidden = lm.model(
            input_ids=batch.input_ids.to(dev), attention_mask=batch.attention_mask.to(dev)
        ).last_hidden_state
        logits = lm.lm_head(hidden[where.to(dev)]).float()
        logp = torch.log_softmax(logits, dim=-1)
        targets = batch.targets[where].to(dev)
        chosen = logp.gather(1, targets.unsqueeze(1)).squeeze(1)
        return chosen, logp.argmax(dim=-1) == targets

    def _loss(self, batch: Batch) -> tuple[torch.Tensor, BatchScore]:
        where = batch.weights > 0
        chosen, correct = self._token_logprobs(batch, where)
        weight = batch.weights[where].to(chosen.device)
        loss = -(chosen * weight).sum() / weight.sum()
        return loss, _score(self._totals(batch, where, chosen.detach(), correct))

    def _sums(self, batch: Batch) -> np.ndarray:
        where = batch.weights > 0
        chosen, correct = self._token_logprobs(batch, where)
        return self._totals(batch, where, chosen, correct)

    @staticmethod
    def _totals(
        batch: Batch, where: torch.Tensor, chosen: torch.Tensor, correct: torch.Tensor
    ) -> np.ndarray:
        """[weighted NLL, weight, completion tokens, correct ones, sequences, correct ones]."""
        weight = batch.weights[where]
        nll = -chosen.cpu().double()
        is_completion = batch.completion[where]
        hits = correct.cpu() & is_completion
        rows = batch.example[where]
        n_rows = batch.input_ids.shape[0]
        wrong = torch.zeros(n_rows).index_add_(0, rows, (is_completion & ~hits).float())
        return np.array(
            [
                float((nll * weight).sum()),
                float(weight.sum()),
                float(is_completion.sum()),
                float(hits.sum()),
                float(n_rows),
                float((wrong == 0).sum()),
            ]
        )

    def _sequence_logprobs(self, batch: Batch) -> torch.Tensor:
        """Summed log-probability of each example's completion tokens."""
        where = batch.completion
        chosen, _ = self._token_logprobs(batch, where)
        n_rows = batch.input_ids.shape[0]
        return torch.zeros(n_rows).index_add_(0, batch.example[where], chosen.cpu().float())


def _score(totals: np.ndarray) -> BatchScore:
    """Plain floats (they go into JSON) from the summed totals."""
    nll, weight, tokens, hits, rows, right = (float(t) for t in totals)
    return BatchScore(
        nll / weight if weight else 0.0,
        right / rows if rows else 1.0,
        hits / tokens if tokens else 1.0,
    )


def prepare_transformer(
    *,
    base_model: str,
    train_data: Dataset,
    valid_data: Dataset | None,
    hyperparameters: Any,
    seed: int,
    metadata: dict[str, str] | None,
    parent: Path | None,
    state_dir: Path,
) -> tuple[TransformerLearner, TokenizedSplit, TokenizedSplit | None]:
    """The learner and the tokenized splits for one job."""
    method = resolve_method(metadata)
    tokenizer = weights.load_tokenizer()
    train_split = tokenize_split(tokenizer, train_data)
    valid_split = (
        tokenize_split(tokenizer, valid_data) if valid_data and valid_data.examples else None
    )
    steps = -(-len(train_split) // hyperparameters.batch_size) * hyperparameters.n_epochs
    learner = TransformerLearner(
        base_model=base_model,
        data_format=train_data.format,
        method=method,
        learning_rate=BASE_LEARNING_RATE[method] * hyperparameters.learning_rate_multiplier,
        prompt_loss_weight=hyperparameters.prompt_loss_weight,
        total_steps=steps,
        seed=seed,
        train_split=train_split,
        parent=parent,
        state_dir=state_dir,
    )
    return learner, train_split, valid_split
