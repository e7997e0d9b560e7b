"""Trained (and base) models as the server uses them: `complete` and `chat`.

A `CompletionModel` has the prompt vectorizer, a prompt-token model (unigram; scores prompt
tokens for the prompt-loss term and under `echo`) and one head (see `heads`). Saving and loading
live in `storage`.

`base_model(name)` is a retrieval head with an empty memory whose background is uniform over
50 common English words and punctuation plus end-of-text: it knows nothing about anyone's data,
answers every prompt with generic words, and reports log(1/51) ≈ −3.93 per token, its real
probability.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ftkit.backend.training.decoding import (
    Choice,
    Generated,
    Sampling,
    generate,
    token_offsets,
)
from ftkit.backend.training.examples import Format, render_chat
from ftkit.backend.training.features import N_FEATURES, PromptVectorizer
from ftkit.backend.training.heads import ClassifierHead, RetrievalHead
from ftkit.backend.training.lm import UnigramLM
from ftkit.backend.training.retrieval import RetrievalGenerator
from ftkit.data.tokens import encoding_name, get_encoding

PROMPT_LM_ALPHA = 0.01
BACKGROUND_ALPHA = 0.01
CHAT_MAX_TOKENS = 512
BASE_MODELS = (
    "babbage-002",
    "davinci-002",
    "ada",
    "babbage",
    "curie",
    "davinci",
    "gpt-3.5-turbo-0125",
    "gpt-4o-mini-2024-07-18",
)
CHAT_BASE_MODELS = ("gpt-3.5-turbo-0125", "gpt-4o-mini-2024-07-18")
_GENERIC_WORDS = (
    ",",
    ".",
    " the",
    " of",
    " and",
    " to",
    " a",
    " in",
    " is",
    " it",
    " that",
    " for",
    " was",
    " on",
    " are",
    " as",
    " with",
    " be",
    " at",
    " by",
    " this",
    " have",
    " from",
    " or",
    " an",
    " but",
    " not",
    " what",
    " all",
    " were",
    " we",
    " when",
    " your",
    " can",
    " said",
    " there",
    " use",
    " each",
    " which",
    " she",
    " do",
    " how",
    " their",
    " if",
    " will",
    " up",
    " other",
    " about",
    " out",
    " many",
)


class CompletionModel:
    """A model the server can query: `complete` for prompts, `chat` for conversations."""

    def __init__(
        self,
        base_model: str,
        data_format: Format,
        vectorizer: PromptVectorizer,
        prompt_lm: UnigramLM,
        head: ClassifierHead | RetrievalHead,
    ) -> None:
        self.base_model = base_model
        self.data_format = data_format
        self.vectorizer = vectorizer
        self.prompt_lm = prompt_lm
        self.head = head
        self.encoding = get_encoding(encoding_name(base_model))

    @property
    def kind(self) -> str:
        """Which head answers: "classifier" or "retrieval"."""
        return "classifier" if isinstance(self.head, ClassifierHead) else "retrieval"

    def complete(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int | None = 16,
        temperature: float = 1.0,
        top_p: float = 1.0,
        n: int = 1,
        logprobs: int | None = None,
        stop: str | Sequence[str] | None = None,
        echo: bool = False,
        seed: int | None = None,
    ) -> list[list[Choice]]:
        """Per prompt, `n` sampled completions (openai-api.md §6.1–6.2 semantics).

        temperature 0 → most probable token each step; otherwise sampling from p^(1/T) within
        `top_p`, seeded by `seed`. Logprobs are the model's untempered log-probabilities;
        `logprobs=k` adds each position's k most probable tokens plus the chosen one. A stop
        sequence ends the text before it (finish "stop"), as does end-of-text; reaching
        `max_tokens` gives finish "length".
        """
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        sampling = Sampling(
            16 if max_tokens is None else max_tokens, temperature, top_p, logprobs, stops
        )
        rng = np.random.default_rng(seed)
        candidates = self.head.prompt_candidates(self.vectorizer.transform(prompts))
        token_bytes = functools.partial(_token_bytes, self.encoding.name)
        eot = self.encoding.eot_token
        results = []
        for prompt, (trie, mass, background) in zip(prompts, candidates, strict=True):
            echoed = self._echo(prompt, logprobs) if echo else None
            choices = []
            for _ in range(n):
                generated = generate(trie, mass, background, sampling, rng, token_bytes, eot)
                choices.append(_choice(prompt, echoed, generated))
            results.append(choices)
        return results

    def chat(
        self,
        conversations: Sequence[Sequence[Mapping[str, Any]]],
        *,
        max_tokens: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        n: int = 1,
        logprobs: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
    ) -> list[list[Choice]]:
        """Assistant replies to conversations, as `complete` on the rendered prompts.

        Each Choice's `text` is the assistant message content; `tokens`/`token_logprobs`/
        `top_logprobs` map one-to-one onto the chat `logprobs.content` entries (token, logprob,
        top_logprobs with `logprobs` alternatives). `max_tokens` None means up to 512 tokens.
        """
        return self.complete(
            [render_chat(messages) for messages in conversations],
            max_tokens=CHAT_MAX_TOKENS if max_tokens is None else max_tokens,
            temperature=temperature,
            top_p=top_p,
            n=n,
            logprobs=logprobs,
            stop=stop,
            seed=seed,
        )

    def _echo(self, prompt: str, logprobs: int | None) -> _Echo:
        """Prompt tokens with the prompt-token model's logprobs (the first one has none)."""
        ids = np.array(self.encoding.encode_ordinary(prompt), dtype=np.int64)
        pieces = [_token_bytes(self.encoding.name, int(t)) for t in ids]
        strings = [piece.decode("utf-8", "replace") for piece in pieces]
        lps: list[float | None] = [None, *self.prompt_lm.logprob(ids[1:]).tolist()][: len(ids)]
        tops: list[dict[str, float] | None] | None = None
        if logprobs is not None:
            top_ids, top_probs = self.prompt_lm.top()
            alternatives = {
                _token_bytes(self.encoding.name, int(t)).decode("utf-8", "replace"): float(
                    np.log(p)
                )
                for t, p in zip(top_ids[:logprobs], top_probs[:logprobs], strict=True)
            }
            tops = [None] + [
                {**alternatives, s: float(lp or 0.0)}
                for s, lp in zip(strings[1:], lps[1:], strict=True)
            ]
            tops = tops[: len(ids)]
        return _Echo(strings, lps, tops, token_offsets(pieces))


def base_model(name: str) -> CompletionModel:
    """The untrained model for a base model name: generic words, no knowledge of any data."""
    encoding = get_encoding(encoding_name(name))
    words = sorted({t for w in _GENERIC_WORDS for t in encoding.encode_ordinary(w)[:1]})
    counts = np.zeros(encoding.n_vocab)
    counts[[*words, encoding.eot_token]] = 1.0
    generator = RetrievalGenerator(
        sp.csr_matrix((0, N_FEATURES), dtype=np.float32),
        np.zeros(0, np.int64),
        [],
        UnigramLM(encoding.n_vocab, 0.0, counts),
    )
    data_format: Format = "chat" if name in CHAT_BASE_MODELS else "prompt_completion"
    prompt_lm = UnigramLM(encoding.n_vocab, 1.0)
    vectorizer = PromptVectorizer(encoding.name).fit([])
    return CompletionModel(name, data_format, vectorizer, prompt_lm, RetrievalHead(generator))


@dataclass(frozen=True)
class _Echo:
    """The prompt's tokens as `echo` returns them."""

    tokens: list[str]
    logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None] | None
    offsets: list[int]


@functools.lru_cache(maxsize=65536)
def _token_bytes(encoding: str, token: int) -> bytes:
    return get_encoding(encoding).decode_single_token_bytes(token)


def _choice(prompt: str, echoed: _Echo | None, generated: Generated) -> Choice:
    """Join the echoed prompt (if any) and the generated completion into one Choice."""
    tops = generated.top_logprobs
    offsets = [len(prompt) + offset for offset in generated.offsets]
    if echoed is None:
        return Choice(
            generated.text,
            generated.finish_reason,
            generated.tokens,
            list(generated.logprobs),
            list(tops) if tops is not None else None,
            offsets,
        )
    return Choice(
        prompt + generated.text,
        generated.finish_reason,
        echoed.tokens + generated.tokens,
        echoed.logprobs + list(generated.logprobs),
        (echoed.top_logprobs or []) + list(tops) if tops is not None else None,
        echoed.offsets + offsets,
    )
