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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import tiktoken

from ftkit.backend.sampling import CHAT_MAX_TOKENS, Choice, SamplingParams, generate
from ftkit.backend.training.decoding import TrieContinuation
from ftkit.backend.training.examples import Format, render_chat
from ftkit.backend.training.features import N_FEATURES, PromptVectorizer
from ftkit.backend.training.heads import ClassifierHead, RetrievalHead
from ftkit.backend.training.lm import UnigramLM
from ftkit.backend.training.retrieval import RetrievalGenerator
from ftkit.data.tokens import encoding_name, get_encoding

PROMPT_LM_ALPHA = 0.01
BACKGROUND_ALPHA = 0.01
CONTEXT_LENGTHS = {
    "babbage-002": 16384,
    "davinci-002": 16384,
    "gpt-3.5-turbo-0125": 16385,
    "gpt-4o-mini-2024-07-18": 128000,
}
"""Context windows (openai model pages); the legacy GPT-3 models have 2049."""
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

    @property
    def tokenizer(self) -> tiktoken.Encoding:
        """The base model's tiktoken encoding."""
        return self.encoding

    @property
    def context_length(self) -> int:
        """The base model's context window."""
        return context_length(self.base_model)

    supports_suffix = False
    """Candidates are whole remembered completions; text after the insertion point cannot
    change them, so `suffix` is refused as OpenAI refuses it for models without insertion."""

    def begin(
        self, prompts: Sequence[Sequence[int]], suffix: Sequence[int] | None = None
    ) -> list[TrieContinuation]:
        """The generation contract: each prompt's candidates, all prompts featurized at once."""
        texts = [self.encoding.decode(list(prompt)) for prompt in prompts]
        candidates = self.head.prompt_candidates(self.vectorizer.transform(texts))
        return [
            TrieContinuation(trie, mass.tolist(), background)
            for trie, mass, background in candidates
        ]

    def prompt_logprobs(
        self, prompt: Sequence[int], top: int | None
    ) -> list[tuple[float | None, dict[int, float] | None]]:
        """Prompt tokens scored by the prompt-token model (unigram; the first has no score)."""
        ids = np.asarray(prompt, dtype=np.int64)
        lps = [None, *self.prompt_lm.logprob(ids[1:]).tolist()][: len(ids)]
        alternatives = None
        if top:
            top_ids, top_probs = self.prompt_lm.top()
            alternatives = {
                int(t): float(np.log(p))
                for t, p in zip(top_ids[:top], top_probs[:top], strict=True)
            }
        return [(lp, alternatives if lp is not None else None) for lp in lps]

    def chat_prompt(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The rendering the trainer saw (`examples.render_chat`)."""
        return render_chat(messages)

    def complete(
        self, prompts: Sequence[str], stop: str | Sequence[str] | None = None, **settings: Any
    ) -> list[list[Choice]]:
        """Per prompt, `n` completions: `sampling.generate` with `SamplingParams(**settings)`."""
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        params = SamplingParams(stop=stops, **settings)
        return generate(self, [self.encoding.encode_ordinary(p) for p in prompts], params)

    def chat(
        self,
        conversations: Sequence[Sequence[Mapping[str, Any]]],
        max_tokens: int = CHAT_MAX_TOKENS,
        **settings: Any,
    ) -> list[list[Choice]]:
        """Assistant replies to conversations: `complete` on the rendered prompts."""
        prompts = [self.chat_prompt(messages) for messages in conversations]
        return self.complete(prompts, max_tokens=max_tokens, **settings)


def context_length(base: str) -> int:
    """Context window of a base model (prompt plus completion tokens)."""
    return CONTEXT_LENGTHS.get(base, 2049)


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
