"""The generation contract: every sampling parameter changes output the way its name says.

Run on the untrained base model (a uniform background over 51 common tokens), so each effect
is visible without training: greedy decoding repeats its favourite token forever.
"""

from __future__ import annotations

from collections import Counter

import pytest

from ftkit.backend.sampling import Choice, SamplingParams, generate, stream
from ftkit.backend.training import base_model

MODEL = base_model("babbage-002")
ENCODING = MODEL.tokenizer
PROMPT = [ENCODING.encode_ordinary("Tell me something:")]
COMMA = ENCODING.encode_ordinary(",")[0]
BANANA = ENCODING.encode_ordinary(" banana")[0]


def one(**settings: object) -> Choice:
    """The first choice for PROMPT."""
    return generate(MODEL, PROMPT, SamplingParams(**settings))[0][0]  # type: ignore[arg-type]


def test_greedy_decoding_repeats_the_most_probable_token() -> None:
    """The baseline the other tests change: temperature 0 gives ',' every time."""
    assert one(max_tokens=6, temperature=0).text == ",,,,,,"


def test_logit_bias_plus_100_forces_a_token_the_model_never_gives() -> None:
    """' banana' has no probability in the base model; +100 makes it certain."""
    choice = one(max_tokens=4, temperature=1, seed=1, logit_bias={BANANA: 100}, logprobs=1)
    assert choice.text == " banana" * 4
    assert all(lp is not None and lp > -1e-6 for lp in choice.token_logprobs)


def test_logit_bias_minus_100_bans_a_token() -> None:
    """Banning ',' makes greedy decoding pick something else, and ',' never appears."""
    text = one(max_tokens=20, temperature=0, logit_bias={COMMA: -100}).text
    assert "," not in text and text
    sampled = generate(
        MODEL, PROMPT, SamplingParams(max_tokens=20, n=20, seed=3, logit_bias={COMMA: -100})
    )[0]
    assert not any("," in c.text for c in sampled)


@pytest.mark.parametrize("penalty", ["frequency_penalty", "presence_penalty"])
def test_penalties_reduce_repeated_tokens(penalty: str) -> None:
    """At 0 greedy repeats one token 30 times, at 2 none more than twice; −2 encourages repeats."""
    plain = Counter(one(max_tokens=30, temperature=0, logprobs=0).tokens)
    penalised = Counter(one(max_tokens=30, temperature=0, logprobs=0, **{penalty: 2.0}).tokens)
    assert plain.most_common(1)[0][1] == 30
    assert penalised.most_common(1)[0][1] <= 2
    sampled = {"max_tokens": 30, "n": 10, "seed": 5}
    encouraged = generate(MODEL, PROMPT, SamplingParams(**sampled, **{penalty: -2.0}))[0]  # type: ignore[arg-type]
    free = generate(MODEL, PROMPT, SamplingParams(**sampled))[0]  # type: ignore[arg-type]
    assert distinct(encouraged) < 0.8 * distinct(free)


def distinct(choices: list[Choice]) -> int:
    """Distinct tokens per choice, summed."""
    return sum(len(set(c.tokens)) for c in choices)


def test_best_of_returns_the_draws_with_the_highest_mean_logprob() -> None:
    """best_of=8, n=2 gives the top 2 of the same 8 draws n=8 gives (same seed)."""
    settings = {"max_tokens": 6, "seed": 11, "logit_bias": {COMMA: 2.0}}  # unequal logprobs
    draws = generate(MODEL, PROMPT, SamplingParams(n=8, **settings))[0]  # type: ignore[arg-type]
    best = generate(MODEL, PROMPT, SamplingParams(n=2, best_of=8, **settings))[0]  # type: ignore[arg-type]
    ranked = sorted(draws, key=lambda c: -c.mean_logprob)
    assert [c.text for c in best] == [c.text for c in ranked[:2]]
    assert len({c.mean_logprob for c in draws}) > 1  # the ranking had something to rank


@pytest.mark.parametrize(
    "settings",
    [
        {"max_tokens": 12, "seed": 2, "stop": (" the", " of")},
        {"max_tokens": 12, "seed": 4, "echo": True, "logprobs": 2},
        {"max_tokens": 5, "seed": 6, "n": 3, "stop": (",",)},
        {"max_tokens": 0, "echo": True},
    ],
)
def test_a_stream_joins_into_the_same_completion(settings: dict[str, object]) -> None:
    """Token chunks concatenate to the non-streamed text, tokens and finish reason."""
    params = SamplingParams(**settings)  # type: ignore[arg-type]
    whole = generate(MODEL, PROMPT, params)[0]
    for index, choice in enumerate(whole):
        chunks = [c for i, c in stream(MODEL, PROMPT, params) if i == index]
        assert "".join(c.text for c in chunks) == choice.text
        assert [c.token for c in chunks if c.token] == choice.tokens
        assert chunks[-1].finish_reason == choice.finish_reason
        assert all(c.finish_reason is None for c in chunks[:-1])


def test_streamed_text_never_shows_part_of_a_stop_sequence() -> None:
    """A stop sequence split over tokens is held back, then cut: no chunk shows its start."""
    stop = " the of"
    params = SamplingParams(max_tokens=40, seed=9, stop=(stop,), logit_bias={})
    for _, chunk in stream(MODEL, PROMPT, params):
        assert stop not in chunk.text
    shown = "".join(c.text for _, c in stream(MODEL, PROMPT, params))
    assert stop not in shown
