"""Token-level distributions over candidate completions, teacher-forced scoring and sampling.

Both models reduce a prompt to weighted candidate completions (token sequences ending with
end-of-text): the classifier's candidates are its classes, the retrieval model's are its
neighbours' completions. The candidates form a token trie; the probability of the next token
given a prefix is the weight of the candidates under that child over the weight under the prefix,
so the first token's probability is the summed probability of the candidates that start with it
and a whole candidate's probability is the product of its tokens' probabilities.

A `Background` unigram model can be mixed in (free-text models): on the trie
p(t) = (1 − ε)·p_trie(t) + ε·p_bg(t); once the text leaves every candidate, p(t) = p_bg(t).
`TrieContinuation` offers the sampler (`ftkit.backend.sampling`) the trie's tokens plus the
background's 64 most probable tokens, and the full model's probability of any other token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftkit.backend.training.lm import UnigramLM


@dataclass(frozen=True)
class Background:
    """A unigram model mixed into a trie's distribution with weight `weight` (ε)."""

    lm: UnigramLM
    weight: float


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


class TrieContinuation:
    """The fast learner's side of the generation contract (`ftkit.backend.sampling`).

    The text so far is a node of the candidates' trie (None once it has left every candidate,
    then only the background can continue it). Candidates are the trie's children plus the
    background's 64 most probable tokens.
    """

    def __init__(
        self,
        trie: CandidateTrie,
        mass: list[float],
        background: Background | None,
        node: int | None = 0,
    ) -> None:
        self.trie, self.mass, self.background, self.node = trie, mass, background, node

    def candidates(self) -> tuple[list[int], list[float]]:
        """Next tokens with probability, and their log-probabilities."""
        tokens, probs = next_distribution(self.trie, self.mass, self.node, self.background)
        kept = [(t, math.log(p)) for t, p in zip(tokens, probs, strict=True) if p > 0]
        return [t for t, _ in kept], [lp for _, lp in kept]

    def logprob(self, token: int) -> float:
        """log p(token) for any token."""
        here = live_node(self.node, self.mass)
        tokens, probs = next_distribution(self.trie, self.mass, self.node, self.background, 0)
        p = token_probability(tokens, probs, token, here is not None, self.background)
        return math.log(p) if p > 0 else -math.inf

    def advance(self, token: int) -> None:
        """Move to the child for `token` (off the trie if there is none)."""
        here = live_node(self.node, self.mass)
        self.node = self.trie.children[here].get(token) if here is not None else None

    def fork(self) -> TrieContinuation:
        """A copy at the same node."""
        return TrieContinuation(self.trie, self.mass, self.background, self.node)
