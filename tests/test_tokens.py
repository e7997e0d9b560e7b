"""Exact token counts offline, from packaged rank files."""

from __future__ import annotations

import pytest

from ftkit.data.tokens import count_tokens, encoding_name, get_encoding


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("ada", "r50k_base"),
        ("davinci", "r50k_base"),
        ("curie:ft-personal-2023-04-18-09-48-38", "r50k_base"),
        ("babbage-002", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:personal::Ajo5kvNY", "o200k_base"),
    ],
)
def test_model_to_encoding(model: str, expected: str) -> None:
    """Legacy models use r50k, the 002 and gpt-3.5/4 models cl100k, gpt-4o o200k."""
    assert encoding_name(model) == expected


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        # Reference ids published with the encodings (GPT-2 " hello world" is 23748, 995).
        ("r50k_base", [23748, 995]),
        ("cl100k_base", [24748, 1917]),
        ("o200k_base", [40617, 2375]),
    ],
)
def test_encodings_match_the_reference_ids(name: str, tokens: list[int]) -> None:
    """Each encoding, built offline, gives the ids the real tokenizer gives."""
    encoding = get_encoding(name)
    assert encoding.encode_ordinary(" hello world") == tokens
    assert count_tokens(" hello world", encoding) == 2
