"""Token-level decoding over candidate completions is exact probability bookkeeping."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ftkit.backend.sampling import SamplingParams, generate
from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.decoding import CandidateTrie, TrieContinuation, teacher_forced
from ftkit.backend.training.heads import ClassifierHead
from ftkit.backend.training.metrics import teacher_forced_scores
from ftkit.data.tokens import get_encoding

ENCODING = get_encoding("cl100k_base")
EOT = ENCODING.eot_token
WORDS = [" no", " way", " yes", " maybe", " not", " sure"]

labels_strategy = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map("".join),
    min_size=2,
    max_size=6,
    unique=True,
)


def token_bytes(token: int) -> bytes:
    """A token's bytes."""
    return ENCODING.decode_single_token_bytes(token)


@settings(max_examples=60, deadline=None)
@given(labels=labels_strategy, data=st.data())
def test_token_losses_add_up_to_the_class_probability(
    labels: list[str], data: st.DataObject
) -> None:
    """Summed token NLLs of a class (prefix classes included) equal −log p(class)."""
    weights = np.array(
        data.draw(st.lists(st.floats(0.01, 1.0), min_size=len(labels), max_size=len(labels)))
    )
    probs = weights / weights.sum()
    sequences = [[*ENCODING.encode_ordinary(label), EOT] for label in labels]
    trie = CandidateTrie(sequences)
    mass = trie.node_mass(probs)
    for sequence, p in zip(sequences, probs, strict=True):
        nll, positions, correct = teacher_forced(trie, mass, None, sequence, EOT)
        assert math.isclose(nll, -math.log(p), rel_tol=1e-9)
        assert 0 <= correct <= positions <= len(sequence)


@settings(max_examples=40, deadline=None)
@given(labels=labels_strategy, seed=st.integers(0, 2**32 - 1))
def test_generation_only_produces_candidates(labels: list[str], seed: int) -> None:
    """Sampled text is always one of the candidates, and its logprobs add up to its probability."""
    probs = np.full(len(labels), 1 / len(labels))
    trie = CandidateTrie([[*ENCODING.encode_ordinary(label), EOT] for label in labels])
    mass = trie.node_mass(probs)
    model = _TrieModel(TrieContinuation(trie, mass.tolist(), None))
    params = SamplingParams(max_tokens=20, temperature=1.0, logprobs=1, seed=seed)
    [[choice]] = generate(model, [[0]], params)
    tokens, logprobs = choice.tokens, choice.token_logprobs
    assert choice.finish_reason == "stop"
    assert choice.text in labels
    if len(trie.children[_node_of(trie, tokens)]) == 1:  # the end was forced: p(end) = 1
        assert math.isclose(sum(lp or 0.0 for lp in logprobs), math.log(1 / len(labels)))


class _TrieModel:
    """The generation contract over one fixed trie (every prompt gets the same candidates)."""

    tokenizer = ENCODING
    context_length = 100
    supports_suffix = False

    def __init__(self, start: TrieContinuation) -> None:
        self.start = start

    def begin(self, prompts: list[list[int]], suffix: object = None) -> list[TrieContinuation]:
        return [self.start.fork() for _ in prompts]

    def prompt_logprobs(self, prompt: object, top: object) -> list[tuple[None, None]]:
        return [(None, None)]

    def chat_prompt(self, messages: object) -> str:
        return ""


def _node_of(trie: CandidateTrie, tokens: list[str]) -> int:
    """The trie node reached by the generated text."""
    node = 0
    for token in ENCODING.encode_ordinary("".join(tokens)):
        node = trie.children[node][token]
    return node


@settings(max_examples=40, deadline=None)
@given(labels=labels_strategy, data=st.data())
def test_vectorised_classifier_scores_match_the_token_walk(
    labels: list[str], data: st.DataObject
) -> None:
    """The classifier's batched teacher forcing gives the generic walk's numbers exactly."""
    estimator = SoftmaxSGDClassifier().partial_fit(
        np.zeros((0, 4)), np.array([], dtype=str), classes=np.array(labels)
    )
    head = ClassifierHead(estimator, ENCODING)
    n = data.draw(st.integers(1, 6))
    weights = np.array(
        data.draw(
            st.lists(
                st.lists(st.floats(0.01, 1.0), min_size=len(labels), max_size=len(labels)),
                min_size=n,
                max_size=n,
            )
        )
    )
    probs = weights / weights.sum(axis=1, keepdims=True)
    classes = np.array(data.draw(st.lists(st.integers(0, len(labels) - 1), min_size=n, max_size=n)))
    fast = head.teacher_forced(probs, classes)
    targets = [np.array([*ENCODING.encode_ordinary(head.labels[c]), EOT]) for c in classes]
    walked = teacher_forced_scores(head.candidates_from_proba(probs), targets, EOT)
    assert np.allclose(fast.nll, walked.nll)
    assert np.array_equal(fast.positions, walked.positions)
    assert np.array_equal(fast.correct, walked.correct)
