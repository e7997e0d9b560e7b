"""The language model as a `GenerativeModel` (see `ftkit.backend.sampling`): the sampler asks
for next-token distributions, this module runs the transformer with a KV cache to give them.

Every token id is a candidate and its log-probability is the model's own (log-softmax of the
logits in fp32). Generation stops at the model's end token; the model's other end token
(`<|endoftext|>`) counts as the same decision, so its probability is added to the end token's.
Prompts are token ids of the model's own tokenizer; chat prompts use its chat template.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from transformers.convert_slow_tokenizer import bytes_to_unicode

from ftkit.backend.training.transformer.batches import render_prompt
from ftkit.backend.training.transformer.learner import autocast, device


class HFTokenizer:
    """A Hugging Face byte-level BPE tokenizer with the methods the sampler uses.

    `encode_ordinary` treats the model's special-token texts (e.g. `<|im_start|>`) as the special
    tokens, so a chat prompt rendered by the chat template tokenizes as the model was trained.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.hf = tokenizer
        self.eot_token = int(tokenizer.eos_token_id)
        self.n_vocab = len(tokenizer)
        decoder = {char: byte for byte, char in bytes_to_unicode().items()}
        special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
        pieces = tokenizer.convert_ids_to_tokens(list(range(self.n_vocab)))
        self._bytes = [
            piece.encode()
            if index in special or any(c not in decoder for c in piece)
            else bytes(decoder[c] for c in piece)
            for index, piece in enumerate(pieces)
        ]
        end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        self.other_end = int(end) if isinstance(end, int) and end != self.eot_token else None

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of `text` (special-token texts become the special tokens)."""
        return list(self.hf(text, add_special_tokens=False)["input_ids"])

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes one token stands for."""
        return self._bytes[token]


class LMContinuation:
    """One sequence: the KV cache after its tokens and the next-token log-probabilities.

    `advance` only records the token; the model runs when the next distribution is asked for,
    so the token that ends a completion (after which nothing is asked) costs no forward pass.
    """

    def __init__(
        self,
        prepare: Callable[[], Any],
        lock: threading.Lock,
        ends: tuple[int, int | None],
        cache: Any,
        logprobs: np.ndarray,
        pending: Sequence[int] = (),
    ) -> None:
        self.prepare = prepare
        self.lock = lock
        self.ends = ends
        self.cache = cache
        self._logprobs = logprobs
        self._pending = list(pending)

    @property
    def logprobs(self) -> np.ndarray:
        """The next-token log-probabilities (running the model on tokens advanced since)."""
        if self._pending:
            ids = torch.tensor([self._pending], device=device())
            with self.lock:
                self._logprobs, self.cache = _forward(self.prepare(), ids, self.cache, self.ends)
            self._pending = []
        return self._logprobs

    def candidates(self) -> tuple[Sequence[int], Sequence[float]]:
        """Every token id and its log-probability."""
        logprobs = self.logprobs
        ids: Any = np.arange(len(logprobs))
        return ids, cast(Any, logprobs)

    def logprob(self, token: int) -> float:
        """log p(token)."""
        return float(self.logprobs[token])

    def advance(self, token: int) -> None:
        """One more token (the model runs on it when the next distribution is asked for)."""
        self._pending.append(token)

    def fork(self) -> LMContinuation:
        """An independent copy (the cache is copied)."""
        cache = copy.deepcopy(self.cache)
        return LMContinuation(
            self.prepare, self.lock, self.ends, cache, self._logprobs, self._pending
        )


class LMGenerator:
    """A served language model (base, base + adapter, or fully fine-tuned) and its tokenizer.

    `prepare()`, called holding `lock` before every forward pass, returns the model set up for
    this generator: models that share base weights switch adapters there.
    """

    def __init__(
        self, tokenizer: HFTokenizer, lock: threading.Lock, prepare: Callable[[], Any]
    ) -> None:
        self._tokenizer = tokenizer
        self.lock = lock
        self.prepare = prepare
        with lock:
            self.context_length = int(prepare().config.max_position_embeddings)
        self.supports_suffix = False
        self.ends = (tokenizer.eot_token, tokenizer.other_end)

    @property
    def tokenizer(self) -> HFTokenizer:
        """The model's tokenizer."""
        return self._tokenizer

    def begin(
        self, prompts: Sequence[Sequence[int]], suffix: Sequence[int] | None = None
    ) -> list[LMContinuation]:
        """One continuation per prompt (an empty prompt starts after the end token)."""
        continuations = []
        for prompt in prompts:
            ids = torch.tensor([list(prompt) or [self.tokenizer.eot_token]], device=device())
            with self.lock:
                logprobs, cache = _forward(self.prepare(), ids, None, self.ends)
            continuations.append(
                LMContinuation(self.prepare, self.lock, self.ends, cache, logprobs)
            )
        return continuations

    def prompt_logprobs(
        self, prompt: Sequence[int], top: int | None
    ) -> list[tuple[float | None, dict[int, float] | None]]:
        """Each prompt token's log-probability given the tokens before it (None for the
        first), with the `top` most probable alternatives at its position."""
        if not prompt:
            return []
        ids = torch.tensor([list(prompt)], device=device())
        with self.lock, torch.inference_mode(), autocast():
            logits = self.prepare()(input_ids=ids).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        chosen = logp.gather(1, ids[0, 1:].unsqueeze(1)).squeeze(1).tolist()
        out: list[tuple[float | None, dict[int, float] | None]] = [(None, None)]
        for position, value in enumerate(chosen):
            alternatives = None
            if top:
                values, indices = logp[position].topk(top)
                alternatives = dict(zip(indices.tolist(), values.tolist(), strict=True))
            out.append((float(value), alternatives))
        return out

    def chat_prompt(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The conversation through the model's chat template, ending where the assistant
        speaks."""
        return render_prompt(self.tokenizer.hf, messages)


def _forward(
    model: Any, ids: torch.Tensor, cache: Any, ends: tuple[int, int | None]
) -> tuple[np.ndarray, Any]:
    """Next-token log-probabilities after `ids` (given the cache so far) and the new cache;
    the other end token's probability is moved onto the end token."""
    with torch.inference_mode(), autocast():
        out = model(input_ids=ids, cache=cache, use_cache=True)
    logp = torch.log_softmax(out.logits[0, -1].float(), dim=-1).cpu().numpy().astype(np.float64)
    end, other = ends
    if other is not None:
        logp[end] = np.logaddexp(logp[end], logp[other])
        logp[other] = -np.inf
    return logp, out.cache
