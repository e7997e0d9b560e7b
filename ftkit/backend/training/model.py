"""Trained (and base) models as the server uses them: completions, chat, save and load.

A `CompletionModel` has a prompt-token model (unigram; scores prompt tokens for the
prompt-loss term and for `echo`) and one head:
- `ClassifierHead`: softmax regression over hashed prompt features; its classes (the distinct
  completions) are the candidates, so the first token's distribution is the class probabilities
  summed by first token and later tokens are conditional on the classes still possible.
- `RetrievalGenerator` (see `retrieval`): neighbours' completions plus a background unigram.

`base_model(name)` is a RetrievalGenerator with an empty memory whose background is uniform over
50 common English words and punctuation plus end-of-text: it knows nothing about anyone's data,
answers every prompt with generic words, and reports log(1/51) ≈ −3.93 per token, its real
probability.

Files are numpy `.npz` archives (no pickle): arrays plus one JSON metadata entry, written to a
temporary file and renamed into place.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import tiktoken

from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.decoding import (
    Candidates,
    CandidateTrie,
    Choice,
    Sampling,
    generate,
)
from ftkit.backend.training.examples import Format, render_chat
from ftkit.backend.training.features import N_FEATURES, PromptVectorizer
from ftkit.backend.training.lm import UnigramLM
from ftkit.backend.training.metrics import TokenScores
from ftkit.backend.training.retrieval import RetrievalGenerator
from ftkit.data.tokens import encoding_name, get_encoding

PROMPT_LM_ALPHA = 0.01
BACKGROUND_ALPHA = 0.01
CHAT_MAX_TOKENS = 512
FORMAT_VERSION = 1
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


class ClassifierHead:
    """A SoftmaxSGDClassifier whose classes are completions; their token trie is built once."""

    def __init__(self, estimator: SoftmaxSGDClassifier, encoding: tiktoken.Encoding) -> None:
        self.estimator = estimator
        self.labels: list[str] = [str(c) for c in estimator.classes_]
        sequences = [
            [*encoding.encode_ordinary(label), encoding.eot_token] for label in self.labels
        ]
        self.trie = CandidateTrie(sequences)
        self.paths = _TriePaths(self.trie, sequences, encoding.eot_token)

    def teacher_forced(self, probs: np.ndarray, classes: np.ndarray) -> TokenScores:
        """Teacher-forced token scores of the true classes, vectorised over the batch.

        The same numbers as `decoding.teacher_forced` on each row (a test checks it): token t of
        class c has p = mass(node after t) / mass(node before t), and is correct when that node
        has the most mass among its siblings.
        """
        paths = self.paths
        masses = np.hstack([self.trie.node_mass(probs), np.zeros((len(probs), 1))])
        rows = np.arange(len(probs))[:, None]
        parent, child, scored = paths.parent[classes], paths.child[classes], paths.scored[classes]
        with np.errstate(divide="ignore", invalid="ignore"):
            nll = -np.log(masses[rows, child] / masses[rows, parent])
        siblings = paths.siblings[parent]
        best = np.take_along_axis(
            siblings, masses[rows[:, :, None], siblings].argmax(axis=2)[:, :, None], axis=2
        )[:, :, 0]
        return TokenScores(
            np.where(scored, nll, 0.0).sum(axis=1),
            scored.sum(axis=1).astype(float),
            (scored & (best == child)).sum(axis=1).astype(float),
        )

    def candidates_from_proba(self, probs: np.ndarray) -> Candidates:
        """Per row of class probabilities: the shared trie and that row's node masses."""
        masses = self.trie.node_mass(probs)
        return [(self.trie, row, None) for row in masses]

    def prompt_candidates(self, features: sp.csr_matrix) -> Candidates:
        """Candidates for prompts, all prompts scored in one matrix product."""
        return self.candidates_from_proba(self.estimator.predict_proba(features))


class _TriePaths:
    """Each class's path through the trie as padded arrays (for vectorised scoring).

    parent/child: the node before/after each token (padding points at a zero-mass column);
    scored: real positions, less an end-of-text that is the only continuation; siblings: each
    node's children, padded with the zero-mass column.
    """

    def __init__(self, trie: CandidateTrie, sequences: list[list[int]], end_token: int) -> None:
        pad = len(trie.children)
        length = max(len(s) for s in sequences)
        self.parent = np.full((len(sequences), length), pad)
        self.child = np.full((len(sequences), length), pad)
        self.scored = np.zeros((len(sequences), length), dtype=bool)
        for index, sequence in enumerate(sequences):
            node = 0
            for position, token in enumerate(sequence):
                nxt = trie.children[node][token]
                self.parent[index, position], self.child[index, position] = node, nxt
                forced_end = token == end_token and len(trie.children[node]) == 1
                self.scored[index, position] = not forced_end
                node = nxt
        width = max(len(c) for c in trie.children)
        self.siblings = np.full((pad + 1, width), pad)
        for node, children in enumerate(trie.children):
            self.siblings[node, : len(children)] = list(children.values())


class RetrievalHead:
    """Generation adapter for a RetrievalGenerator."""

    def __init__(self, generator: RetrievalGenerator) -> None:
        self.generator = generator

    def prompt_candidates(self, features: sp.csr_matrix) -> Candidates:
        """Candidates from each prompt's nearest remembered prompts."""
        rows, sims = self.generator.neighbours(features)
        return self.generator.candidates(rows, self.generator.weights(rows, sims))


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
        token_text = functools.partial(_token_text, self.encoding.name)
        eot = self.encoding.eot_token
        results = []
        for prompt, (trie, mass, background) in zip(prompts, candidates, strict=True):
            echoed = self._echo(prompt, logprobs) if echo else None
            choices = []
            for _ in range(n):
                tokens, lps, tops, finish, text = generate(
                    trie, mass, background, sampling, rng, token_text, eot
                )
                choices.append(_choice(prompt, echoed, tokens, lps, tops, finish, text))
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

    def _echo(
        self, prompt: str, logprobs: int | None
    ) -> tuple[list[str], list[float | None], list[dict[str, float] | None] | None]:
        """Prompt tokens with the prompt-token model's logprobs (the first one has none)."""
        ids = np.array(self.encoding.encode_ordinary(prompt), dtype=np.int64)
        texts = [_token_text(self.encoding.name, int(t)) for t in ids]
        lps: list[float | None] = [None, *self.prompt_lm.logprob(ids[1:]).tolist()][: len(ids)]
        if logprobs is None:
            return texts, lps, None
        top_ids, top_probs = self.prompt_lm.top()
        alternatives = {
            _token_text(self.encoding.name, int(t)): float(np.log(p))
            for t, p in zip(top_ids[:logprobs], top_probs[:logprobs], strict=True)
        }
        tops: list[dict[str, float] | None] = [None]
        for text, lp in zip(texts[1:], lps[1:], strict=True):
            tops.append({**alternatives, text: float(lp)})  # type: ignore[arg-type]
        return texts, lps, tops[: len(ids)]

    def save(self, path: Path) -> Path:
        """Write the model to `path` (.npz) atomically; returns `path`."""
        ids, counts = self.prompt_lm.sparse()
        frequency = self.vectorizer.document_frequency_
        columns = np.flatnonzero(frequency)
        meta: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "base_model": self.base_model,
            "format": self.data_format,
            "n_features": self.vectorizer.n_features,
            "n_documents": self.vectorizer.n_documents_,
        }
        arrays: dict[str, np.ndarray] = {
            "prompt_ids": ids,
            "prompt_counts": counts,
            "df_columns": columns,
            "df_values": frequency[columns],
        }
        if isinstance(self.head, ClassifierHead):
            estimator = self.head.estimator
            rows = np.flatnonzero(np.any(estimator.weights_ != 0, axis=1))
            meta |= {"labels": self.head.labels, "n_steps": estimator.n_steps_}
            arrays |= {
                "weight_rows": rows,
                "weight_values": estimator.weights_[rows],
                "intercept": estimator.intercept_,
            }
        else:
            generator = self.head.generator
            bg_ids, bg_counts = generator.background.lm.sparse()
            meta |= {"beta": generator.beta}
            arrays |= {
                "memory_data": generator.memory.data,
                "memory_indices": generator.memory.indices,
                "memory_indptr": generator.memory.indptr,
                "memory_targets": generator.targets,
                "completion_tokens": np.concatenate(
                    [*generator.completions, np.zeros(0, np.int64)]
                ),
                "completion_lengths": np.array([len(c) for c in generator.completions], np.int64),
                "background_ids": bg_ids,
                "background_counts": bg_counts,
            }
        arrays["meta"] = np.array(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def load_model(path: Path) -> CompletionModel:
    """Load a model saved by `CompletionModel.save` (no pickle involved)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["meta"]))
    encoding = get_encoding(encoding_name(meta["base_model"]))
    prompt_lm = UnigramLM.from_sparse(
        encoding.n_vocab, PROMPT_LM_ALPHA, arrays["prompt_ids"], arrays["prompt_counts"]
    )
    vectorizer = PromptVectorizer(encoding.name, meta["n_features"]).fit([])
    vectorizer.document_frequency_[arrays["df_columns"]] = arrays["df_values"]
    vectorizer.n_documents_ = meta["n_documents"]
    head: ClassifierHead | RetrievalHead
    if meta["kind"] == "classifier":
        estimator = SoftmaxSGDClassifier()
        estimator.classes_ = np.array(meta["labels"])
        estimator.weights_ = np.zeros((meta["n_features"], len(meta["labels"])), np.float32)
        estimator.weights_[arrays["weight_rows"]] = arrays["weight_values"]
        estimator.intercept_ = arrays["intercept"]
        estimator.n_steps_ = meta["n_steps"]
        head = ClassifierHead(estimator, encoding)
    else:
        lengths = arrays["completion_lengths"]
        completions = np.split(arrays["completion_tokens"], np.cumsum(lengths)[:-1])
        memory = sp.csr_matrix(
            (arrays["memory_data"], arrays["memory_indices"], arrays["memory_indptr"]),
            shape=(len(arrays["memory_indptr"]) - 1, meta["n_features"]),
        )
        background = UnigramLM.from_sparse(
            encoding.n_vocab,
            BACKGROUND_ALPHA,
            arrays["background_ids"],
            arrays["background_counts"],
        )
        generator = RetrievalGenerator(
            memory,
            arrays["memory_targets"],
            completions if len(lengths) else [],
            background,
            meta["beta"],
        )
        head = RetrievalHead(generator)
    return CompletionModel(meta["base_model"], meta["format"], vectorizer, prompt_lm, head)


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


@functools.lru_cache(maxsize=65536)
def _token_text(encoding: str, token: int) -> str:
    return get_encoding(encoding).decode_single_token_bytes(token).decode("utf-8", "replace")


def _choice(
    prompt: str,
    echoed: tuple[list[str], list[float | None], list[dict[str, float] | None] | None] | None,
    tokens: list[str],
    logprobs: list[float],
    tops: list[dict[str, float]] | None,
    finish: Any,
    text: str,
) -> Choice:
    all_tokens: list[str] = list(tokens)
    all_lps: list[float | None] = list(logprobs)
    all_tops: list[dict[str, float] | None] | None = list(tops) if tops is not None else None
    start = len(prompt)
    if echoed is not None:
        all_tokens = echoed[0] + all_tokens
        all_lps = echoed[1] + all_lps
        if all_tops is not None:
            all_tops = (echoed[2] or []) + all_tops
        text, start = prompt + text, 0
    offsets = np.cumsum([start, *(len(t) for t in all_tokens)])[:-1].tolist()
    return Choice(text, finish, all_tokens, all_lps, all_tops, offsets)
