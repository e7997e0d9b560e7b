"""Completion text → class label, and logprobs → class probabilities."""

from __future__ import annotations

import math

import pytest

from ftkit.api.models import Logprobs
from ftkit.data.tokens import get_encoding
from ftkit.evaluate.classes import (
    MIN_PROBABILITY,
    OTHER,
    class_probabilities,
    class_token_paths,
    match_label,
    strip_stop,
)

LN = math.log


def test_strip_stop_cuts_at_the_first_stop_sequence() -> None:
    """The stop sequence and anything after it are not part of the answer."""
    assert strip_stop(" positive\nmore", "\n") == " positive"
    assert strip_stop(" positive", None) == " positive"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" positive", " positive"),
        ("positive ", " positive"),
        (" positive\n", " positive"),
        (" maybe", OTHER),
        ("", OTHER),
    ],
)
def test_match_label_exact_then_whitespace_insensitive(text: str, expected: str) -> None:
    """A completion names a class exactly or up to surrounding whitespace; else it is <other>."""
    assert expected == match_label(text, [" negative", " positive"], "\n")


def test_without_a_stop_sequence_the_longest_leading_class_is_named() -> None:
    """Data with no stop sequence: the answer runs on after the label, so its start decides."""
    classes = [" good", " good enough", " bad"]
    assert match_label(" good enough for me", classes, None) == " good enough"
    assert match_label(" bad.", classes, None) == " bad"
    assert match_label(" badly", classes, None) == OTHER
    assert match_label(" good enough for me", classes, "\n") == OTHER


def test_class_token_paths_keep_the_leading_space() -> None:
    """Classes are tokenised as the model emits them, leading space included."""
    paths = class_token_paths([" positive", " very good"], get_encoding("cl100k_base"))
    assert paths == {" positive": [" positive"], " very good": [" very", " good"]}


def test_class_paths_end_with_the_stop_as_the_model_splits_it() -> None:
    """The stop merges with trailing punctuation: " spam." + "\\n" is [" spam", ".\\n"]."""
    paths = class_token_paths([" spam.", " ham."], get_encoding("cl100k_base"), "\n")
    assert paths == {" spam.": [" spam", ".\n"], " ham.": [" ham", ".\n"]}


@pytest.mark.parametrize("stop_token_listed", [True, False])
def test_a_merged_stop_token_does_not_invert_the_classes(stop_token_listed: bool) -> None:
    """The answered class keeps its probability whether or not the stop's token is listed."""
    tokens, logprobs, tops = [" spam"], [LN(0.9)], [{" spam": LN(0.9), " ham": LN(0.1)}]
    if stop_token_listed:
        tokens, logprobs, tops = [*tokens, ".\n"], [*logprobs, 0.0], [*tops, {".\n": 0.0}]
    answer = Logprobs(tokens=tokens, token_logprobs=logprobs, top_logprobs=tops)
    paths = class_token_paths([" spam.", " ham."], get_encoding("cl100k_base"), "\n")
    result = class_probabilities(paths, answer, "\n")
    assert pytest.approx(0.9) == result.probabilities[" spam."]
    assert pytest.approx(0.1) == result.probabilities[" ham."]
    assert result.floored == []


def test_single_token_classes_renormalise_the_top_k() -> None:
    """Probabilities are the first token's top-k probabilities, renormalised over the classes."""
    logprobs = Logprobs(
        tokens=[" hockey"],
        token_logprobs=[LN(0.7)],
        top_logprobs=[{" hockey": LN(0.7), " baseball": LN(0.2), " the": LN(0.05)}],
    )
    result = class_probabilities({" hockey": [" hockey"], " baseball": [" baseball"]}, logprobs)
    assert pytest.approx(0.7 / 0.9) == result.probabilities[" hockey"]
    assert pytest.approx(0.2 / 0.9) == result.probabilities[" baseball"]
    assert pytest.approx(0.9) == result.class_mass
    assert result.floored == []


def test_class_missing_from_top_k_gets_the_documented_floor() -> None:
    """A missing class gets the leftover mass split among missing tokens, capped by the top-k minimum."""
    logprobs = Logprobs(
        tokens=[" a"], token_logprobs=[LN(0.6)], top_logprobs=[{" a": LN(0.6), " b": LN(0.3)}]
    )
    paths = {" a": [" a"], " b": [" b"], " c": [" c"], " d": [" d"]}
    result = class_probabilities(paths, logprobs)
    # leftover 0.1 over two missing tokens = 0.05 each (below the top-k minimum 0.3)
    total = 0.6 + 0.3 + 0.05 + 0.05
    assert pytest.approx(0.05 / total) == result.probabilities[" c"]
    assert sorted(result.floored) == [" c", " d"]
    capped = class_probabilities(
        {" a": [" a"], " z": [" z"]},
        Logprobs(
            tokens=[" a"], token_logprobs=[LN(0.5)], top_logprobs=[{" a": LN(0.5), " b": LN(0.01)}]
        ),
    )
    # leftover 0.49 is capped at the smallest listed probability, 0.01
    assert pytest.approx(0.01 / 0.51) == capped.probabilities[" z"]


def test_floor_never_reaches_zero() -> None:
    """When the top-k holds all the mass, a missing class still gets MIN_PROBABILITY."""
    logprobs = Logprobs(tokens=[" a"], token_logprobs=[0.0], top_logprobs=[{" a": 0.0}])
    result = class_probabilities({" a": [" a"], " b": [" b"]}, logprobs)
    assert pytest.approx(MIN_PROBABILITY, rel=1e-3) == result.probabilities[" b"]


def test_multi_token_classes_follow_the_greedy_path() -> None:
    """Classes sharing a first token are told apart by the top-k where they leave the greedy path."""
    paths = {" very good": [" very", " good"], " very bad": [" very", " bad"], " no": [" no"]}
    logprobs = Logprobs(
        tokens=[" very", " good"],
        token_logprobs=[LN(0.6), LN(0.7)],
        top_logprobs=[{" very": LN(0.6), " no": LN(0.3)}, {" good": LN(0.7), " bad": LN(0.2)}],
    )
    result = class_probabilities(paths, logprobs)
    scores = {" very good": 0.6 * 0.7, " very bad": 0.6 * 0.2, " no": 0.3}
    total = sum(scores.values())
    for label, score in scores.items():
        assert pytest.approx(score / total) == result.probabilities[label]


def test_classes_sharing_an_unexplored_first_token_split_its_mass() -> None:
    """Off the greedy path, classes with the same first token share that token's probability."""
    paths = {" very good": [" very", " good"], " very bad": [" very", " bad"], " no": [" no"]}
    logprobs = Logprobs(
        tokens=[" no"], token_logprobs=[LN(0.5)], top_logprobs=[{" no": LN(0.5), " very": LN(0.4)}]
    )
    result = class_probabilities(paths, logprobs)
    assert pytest.approx(0.5 / 0.9) == result.probabilities[" no"]
    assert pytest.approx(0.2 / 0.9) == result.probabilities[" very good"]
    assert pytest.approx(0.2 / 0.9) == result.probabilities[" very bad"]
