"""Free-text metrics: exact match, normalised token F1, lengths."""

from __future__ import annotations

import pytest

from ftkit.evaluate.predictions import Prediction
from ftkit.evaluate.text import normalize, text_metrics, token_f1


def test_normalize_drops_case_punctuation_and_articles() -> None:
    """SQuAD-style normalisation."""
    assert normalize("The cat, sat on a MAT!") == "cat sat on mat"


def test_token_f1_is_the_f1_of_word_bags() -> None:
    """2 shared words of 3 predicted and 4 expected: P=2/3, R=1/2, F1=4/7."""
    assert pytest.approx(4 / 7) == token_f1("red big dog", "a big red fluffy cat")
    assert token_f1("", "the") == 1.0
    assert token_f1("x", "y") == 0.0


def test_text_metrics_over_rows() -> None:
    """Exact match compares stripped text; normalised match and F1 ignore case and articles."""
    rows = [
        Prediction(index=0, line=1, prompt="", expected="Paris", predicted=" Paris", text=" Paris"),
        Prediction(index=1, line=2, prompt="", expected="the Moon", predicted="moon", text="moon"),
        Prediction(index=2, line=3, prompt="", expected="two words", predicted="", text=""),
    ]
    result = text_metrics(rows)
    assert pytest.approx(1 / 3) == result.exact_match
    assert pytest.approx(2 / 3) == result.normalized_exact_match
    assert pytest.approx(2 / 3) == result.token_f1
    assert result.empty_answers == 1 and result.expected_length.max == 2
    assert pytest.approx(1 / 3) == result.flat()["empty_rate"]
