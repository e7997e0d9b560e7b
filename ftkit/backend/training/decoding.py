"""Token-level distributions over candidate completions, teacher-forced scoring and sampling.

Both models reduce a prompt to weighted candidate completions (token sequences ending with
end-of-text): the classifier's candidates are its classes, the retrieval model's are its
neighbours' completions. The candidates form a token trie; the probability of the next token
given a prefix is the weight of the candidates under that child over the weight under the prefix,
so the first token's probability is the summed probability of the candidates that start with it
and a whole candidate's probability is the product of its tokens' probabilities.

A `Background` unigram model can be mixed in (free-text models): on the trie
p(t) = (1 − ε)·p_trie(t) + ε·p_bg(t); once the text leaves every candidate, p(t) = p_bg(t).
Sampling considers the trie's tokens plus the background's 64 most probable tokens; the
reported log-probabilities are always the full model's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ftkit.backend.training.lm import UnigramLM

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Background:
    """A unigram model mixed into a trie's distribution with weight `weight` (ε)."""

    lm: UnigramLM
    weight: float


@dataclass(frozen=True)
class Choice:
    """One generated completion with per-token log-probabilities (openai-api.md §6.2).

    `tokens`, `token_logprobs` and `text_offset` have one entry per token (prompt tokens first
    with `echo`; the first prompt token's logprob is None). `top_logprobs` is None unless
    logprobs were requested; otherwise one map per token of up to `logprobs` alternatives plus
    the chosen token. Offsets count characters of prompt + completion.
    """

    text: str
    finish_reason: FinishReason
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None] | None
    text_offset: list[int]


class CandidateTrie:
    """A token trie over candidate sequences; node 0 is the root."""

    def __init__(self, sequences: Sequence[Sequence[int]]) -> None:
        children: list[dict[int, int]] = [{}]
        paths = []
        for sequence in sequences:
            node, path = 0, []
            for token in sequence:
                nxt = children[node].get(token)
                if nxt is None:
                    nxt = children[node][token] = len(children)
                    children.append({})
                path.append(nxt)
                node = nxt
            paths.append(path)
        self.child_tokens = [list(c) for c in children]
        self.child_nodes = [list(c.values()) for c in children]
        self.children = children
        self.membership = np.zeros((len(sequences), len(children)))
        for index, path in enumerate(paths):
            self.membership[index, 0] = 1.0
            self.membership[index, path] = 1.0

    def node_mass(self, weights: np.ndarray) -> np.ndarray:
        """Weight under each node, for candidate weights (… × n_sequences)."""
        return weights @ self.membership


Candidates = list[tuple[CandidateTrie, np.ndarray, Background | None]]
"""Per prompt: its candidates' token trie, the weight under each trie node, the background."""


def next_distribution(
    trie: CandidateTrie,
    mass: list[float],
    node: int | None,
    background: Background | None,
    tail: int = 64,
) -> tuple[list[int], list[float]]:
    """Next-token candidates and their exact probabilities after reaching `node`.

    `node` None means the text has left the trie. The trie's tokens come first; with a
    background, up to `tail` of its top tokens follow in decreasing probability. Probabilities
    sum to 1 for a trie alone; with a background they cover the listed tokens only.
    """
    here = live_node(node, mass)
    if here is None:
        if background is None:
            return [], []
        top_tokens, top_probs = background.lm.top_lists()
        return top_tokens[:tail], top_probs[:tail]
    tokens = trie.child_tokens[here]
    probs = [mass[child] / mass[here] for child in trie.child_nodes[here]]
    if background is None:
        return tokens, probs
    top_tokens, top_probs = background.lm.top_lists()
    weight, prob = background.weight, background.lm.prob_of
    head = set(tokens)
    mixed = [(1 - weight) * p + weight * prob(t) for t, p in zip(tokens, probs, strict=True)]
    rest = [t for t in top_tokens[: tail + len(head)] if t not in head][:tail]
    return tokens + rest, mixed + [weight * prob(t) for t in rest]


def live_node(node: int | None, mass: list[float]) -> int | None:
    """`node` if the text is still on the trie (a node with probability mass), else None."""
    return node if node is not None and mass[node] > 0 else None


def token_probability(
    tokens: list[int],
    probs: list[float],
    token: int,
    on_trie: bool,
    background: Background | None,
) -> float:
    """p(token) given a `next_distribution` result, also for tokens outside the listed ones."""
    if token in tokens:
        return probs[tokens.index(token)]
    if background is None:
        return 0.0
    return (background.weight if on_trie else 1.0) * background.lm.prob_of(token)


def teacher_forced(
    trie: CandidateTrie,
    mass: np.ndarray,
    background: Background | None,
    target: Sequence[int] | np.ndarray,
    end_token: int,
) -> tuple[float, int, int]:
    """Score a target (ending with end-of-text) token by token given its true prefix.

    Returns (summed negative log-likelihood, scored positions, correctly predicted positions):
    a position is correct when the model's most probable next token is the target's. An
    end-of-text that is the only possible continuation is not scored (nothing was decided).
    """
    masses = mass.tolist()
    node: int | None = 0
    nll, positions, correct = 0.0, 0, 0
    for token in target:
        here = live_node(node, masses)
        tokens, probs = next_distribution(trie, masses, node, background, tail=1)
        if token == end_token and background is None and len(tokens) == 1:
            break
        p = token_probability(tokens, probs, token, here is not None, background)
        nll -= math.log(max(p, 1e-300))
        positions += 1
        if tokens:
            correct += int(tokens[max(range(len(probs)), key=probs.__getitem__)] == token)
        node = trie.children[here].get(token) if here is not None else None
    return nll, positions, correct


@dataclass(frozen=True)
class Sampling:
    """Generation settings of one request."""

    max_tokens: int
    temperature: float
    top_p: float
    logprobs: int | None
    stop: Sequence[str]


@dataclass(frozen=True)
class Generated:
    """One sampled completion: per-token strings, logprobs, alternatives and offsets.

    `text` is decoded from all the tokens' bytes together, so characters split over several
    tokens come out whole; `offsets` are each token's character offset in `text`.
    """

    tokens: list[str]
    logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None
    finish_reason: FinishReason
    text: str
    offsets: list[int]


def generate(
    trie: CandidateTrie,
    mass: np.ndarray,
    background: Background | None,
    sampling: Sampling,
    rng: np.random.Generator,
    token_bytes: Callable[[int], bytes],
    end_token: int,
) -> Generated:
    """Sample one completion token by token until end-of-text, a stop sequence or max_tokens."""
    masses = mass.tolist()
    node: int | None = 0
    strings: list[str] = []
    logprobs: list[float] = []
    tops: list[dict[str, float]] | None = [] if sampling.logprobs is not None else None
    offsets: list[int] = []
    longest_stop = max((len(s) for s in sampling.stop), default=0)
    tail = 64 if sampling.temperature > 0 else (sampling.logprobs or 0) + 1
    raw, text = b"", ""
    finish: FinishReason = "length"
    while len(strings) < sampling.max_tokens:
        here = live_node(node, masses)
        n_head = len(trie.child_tokens[here]) if here is not None else 0
        tokens, probs = next_distribution(trie, masses, node, background, tail)
        pick = _pick(probs, n_head, sampling, rng)
        if not tokens or tokens[pick] == end_token:
            finish = "stop"
            break
        token = tokens[pick]
        piece = token_bytes(token)
        strings.append(piece.decode("utf-8", "replace"))
        logprobs.append(math.log(probs[pick]))
        offsets.append(len(text))
        if tops is not None:
            k = sampling.logprobs or 0
            tops.append(_top_map(tokens, probs, n_head, pick, k, token_bytes))
        raw += piece
        text = raw.decode("utf-8", "ignore")
        cut = _stop_position(text, sampling.stop, max(0, offsets[-1] - longest_stop))
        if cut is not None:
            keep = sum(1 for offset in offsets if offset < cut)
            top_kept = tops[:keep] if tops is not None else None
            return Generated(
                strings[:keep], logprobs[:keep], top_kept, "stop", text[:cut], offsets[:keep]
            )
        node = trie.children[here].get(token) if here is not None else None
    return Generated(strings, logprobs, tops, finish, raw.decode("utf-8", "replace"), offsets)


def token_offsets(pieces: Sequence[bytes]) -> list[int]:
    """Character offset of each token's start in the text the pieces decode to together."""
    offsets, raw = [], b""
    for piece in pieces:
        offsets.append(len(raw.decode("utf-8", "ignore")))
        raw += piece
    return offsets


def _pick(probs: list[float], n_head: int, sampling: Sampling, rng: np.random.Generator) -> int:
    """Greedy at temperature 0, else a draw from p^(1/T) restricted to the top_p nucleus.

    Entries after the first `n_head` are in decreasing order, so greedy looks at one of them.
    """
    if sampling.temperature <= 0 or len(probs) <= 1:
        return max(range(min(len(probs), n_head + 1)), key=probs.__getitem__, default=0)
    with np.errstate(divide="ignore"):
        scaled = np.log(np.array(probs)) / sampling.temperature
    weights = np.exp(scaled - scaled.max())
    order = np.argsort(-weights, kind="stable")
    cumulative = np.cumsum(weights[order] / weights.sum())
    if sampling.top_p < 1:
        keep = int(np.searchsorted(cumulative, sampling.top_p)) + 1
        cumulative = cumulative[:keep]
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return int(order[min(index, len(cumulative) - 1)])


def _top_map(
    tokens: list[int],
    probs: list[float],
    n_head: int,
    pick: int,
    k: int,
    token_bytes: Callable[[int], bytes],
) -> dict[str, float]:
    """The k most probable tokens plus the chosen one, most probable first."""
    ranked = sorted(range(min(len(probs), n_head + k)), key=lambda i: -probs[i])
    chosen = ranked[:k] if pick in ranked[:k] else [*ranked[:k], pick]
    return {
        token_bytes(tokens[i]).decode("utf-8", "replace"): (
            math.log(probs[i]) if probs[i] > 0 else -math.inf
        )
        for i in chosen
    }


def _stop_position(text: str, stop: Sequence[str], start: int) -> int | None:
    """Where the first stop sequence begins in text[start:] (as an index into text), if any."""
    found = [p for p in (text.find(s, start) for s in stop if s) if p >= 0]
    return min(found) if found else None
