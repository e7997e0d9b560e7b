"""CompletionModel: completions and chat with the model's own log-probabilities."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from training_fixtures import tickets, write_jsonl

from ftkit.backend.training import (
    BASE_MODELS,
    CompletionModel,
    TrainingRequest,
    base_model,
    load_model,
    resolve_hyperparameters,
    save_model,
    train,
)
from ftkit.backend.training.heads import ClassifierHead

LABELS = {" very good": ["great", "love", "superb"], " very bad": ["awful", "hate", "broken"]}
LABELS[" neutral"] = ["okay", "fine", "average"]


def reviews(n: int, seed: int) -> list[dict[str, str]]:
    """Reviews labelled with classes two of which share their first token (" very")."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(list(LABELS))
        words = [*rng.sample(LABELS[label], 2), "the", "product", "was"]
        rng.shuffle(words)
        rows.append({"prompt": "Review: " + " ".join(words) + " ->", "completion": label})
    return rows


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> CompletionModel:
    """A classifier trained on the reviews."""
    folder = tmp_path_factory.mktemp("reviews")
    request = TrainingRequest(
        train_path=write_jsonl(folder / "train.jsonl", reviews(150, seed=1)),
        base_model="babbage-002",
        hyperparameters=resolve_hyperparameters(150, n_epochs=2, batch_size=4),
    )
    return load_model(train(request, out_dir=folder / "out").model_path)


PROMPT = "Review: love the superb product ->"


def class_probabilities(model: CompletionModel, prompt: str) -> dict[str, float]:
    """The classifier's own class probabilities for a prompt."""
    head = model.head
    assert isinstance(head, ClassifierHead)
    probs = head.estimator.predict_proba(model.vectorizer.transform([prompt]))[0]
    return dict(zip(head.labels, probs.tolist(), strict=True))


def test_first_token_sums_classes_and_later_tokens_are_conditional(model: CompletionModel) -> None:
    """ " very" carries p(very good) + p(very bad); " good" then has p(good | very)."""
    probs = class_probabilities(model, PROMPT)
    choice = model.complete([PROMPT], max_tokens=5, temperature=0, logprobs=5)[0][0]
    assert choice.text == " very good"
    assert choice.finish_reason == "stop"
    assert choice.tokens == [" very", " good"]
    very = probs[" very good"] + probs[" very bad"]
    assert choice.top_logprobs is not None
    assert choice.top_logprobs[0] == pytest.approx(
        {" very": math.log(very), " neutral": math.log(probs[" neutral"])}
    )
    assert choice.token_logprobs[1] == pytest.approx(math.log(probs[" very good"] / very))
    assert sum(math.exp(v) for v in choice.top_logprobs[1].values()) == pytest.approx(1.0)


def test_max_tokens_truncates_with_finish_length(model: CompletionModel) -> None:
    """Reaching max_tokens ends the choice with finish_reason "length"."""
    choice = model.complete([PROMPT], max_tokens=1, temperature=0)[0][0]
    assert (choice.text, choice.finish_reason, choice.tokens) == (" very", "length", [" very"])


def test_stop_sequence_cuts_the_text(model: CompletionModel) -> None:
    """A stop sequence ends the text before it, with finish_reason "stop"."""
    choice = model.complete([PROMPT], max_tokens=5, temperature=0, stop=[" go", "zzz"])[0][0]
    assert (choice.text, choice.finish_reason) == (" very", "stop")


def test_text_offsets_and_echo(model: CompletionModel) -> None:
    """Offsets count prompt + completion characters; echo prepends the prompt's tokens."""
    plain = model.complete([PROMPT], max_tokens=5, temperature=0, logprobs=1)[0][0]
    assert plain.text_offset == [len(PROMPT), len(PROMPT) + len(" very")]
    echoed = model.complete([PROMPT], max_tokens=5, temperature=0, logprobs=1, echo=True)[0][0]
    assert echoed.text == PROMPT + plain.text
    assert "".join(echoed.tokens) == echoed.text
    assert echoed.text_offset[0] == 0
    assert echoed.text_offset[-2:] == plain.text_offset
    assert echoed.token_logprobs[0] is None
    assert all(lp is not None and lp < 0 for lp in echoed.token_logprobs[1:])
    assert echoed.top_logprobs is not None and echoed.top_logprobs[0] is None


@pytest.mark.parametrize("k", [0, 1, 2])
def test_top_logprobs_hold_k_alternatives_plus_the_chosen_token(
    model: CompletionModel, k: int
) -> None:
    """logprobs=k gives at most k+1 entries per position, always including the chosen token."""
    choices = model.complete([PROMPT] * 20, max_tokens=5, temperature=1.5, logprobs=k, seed=3)
    for choice in (c[0] for c in choices):
        assert choice.top_logprobs is not None
        for token, top, lp in zip(
            choice.tokens, choice.top_logprobs, choice.token_logprobs, strict=True
        ):
            assert len(top) <= k + 1
            assert top[token] == lp
    assert model.complete([PROMPT], temperature=0)[0][0].top_logprobs is None


def test_sampling_is_seeded_and_follows_the_probabilities(model: CompletionModel) -> None:
    """Same seed → same samples; n=600 samples land near the model's class probabilities."""
    first = model.complete([PROMPT], n=600, temperature=1, seed=7)[0]
    again = model.complete([PROMPT], n=600, temperature=1, seed=7)[0]
    assert [c.text for c in first] == [c.text for c in again]
    counts = Counter(c.text for c in first)
    for label, p in class_probabilities(model, PROMPT).items():
        assert counts[label] / 600 == pytest.approx(p, abs=0.06)


def test_prompt_arrays_answer_each_prompt(model: CompletionModel) -> None:
    """A batch of prompts gives one list of n choices per prompt, in order."""
    prompts = [r["prompt"] for r in reviews(30, seed=9)]
    batch = model.complete(prompts, n=2, temperature=0)
    single = [model.complete([p], temperature=0)[0][0].text for p in prompts]
    assert [len(c) for c in batch] == [2] * 30
    assert [c[0].text for c in batch] == single


def test_saved_model_round_trips(model: CompletionModel, tmp_path: Path) -> None:
    """save → load gives identical answers and leaves no temporary file behind."""
    path = save_model(model, tmp_path / "m.npz")
    again = load_model(path)
    assert again.complete([PROMPT], logprobs=3, temperature=0) == model.complete(
        [PROMPT], logprobs=3, temperature=0
    )
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize("name", BASE_MODELS)
def test_base_models_answer_with_uniform_generic_words(name: str) -> None:
    """Every base model answers; each token's logprob is log(1/51): it knows nothing."""
    model = base_model(name)
    choice = model.complete(["Review: love it ->"], max_tokens=4, temperature=1, seed=1)[0][0]
    assert choice.finish_reason in {"stop", "length"}
    assert all(lp == pytest.approx(-math.log(51)) for lp in choice.token_logprobs)
    reply = model.chat([[{"role": "user", "content": "hi"}]], max_tokens=3, seed=2)[0][0]
    assert len(reply.tokens) <= 3


def test_chat_model_answers_with_the_assistant_content(tmp_path: Path) -> None:
    """A chat-format fine-tune replies with the learned assistant message."""
    conversations = [
        {
            "messages": [
                {"role": "system", "content": "Route the ticket."},
                {"role": "user", "content": row["prompt"]},
                {"role": "assistant", "content": row["completion"].strip()},
            ]
        }
        for row in tickets(120, seed=21)
    ]
    request = TrainingRequest(
        train_path=write_jsonl(tmp_path / "chat.jsonl", conversations),
        base_model="gpt-4o-mini-2024-07-18",
        hyperparameters=resolve_hyperparameters(120),
    )
    model = load_model(train(request, out_dir=tmp_path / "out").model_path)
    assert model.data_format == "chat"
    held_out = tickets(40, seed=22)
    replies = model.chat(
        [
            [
                {"role": "system", "content": "Route the ticket."},
                {"role": "user", "content": row["prompt"]},
            ]
            for row in held_out
        ],
        temperature=0,
    )
    accuracy = np.mean(
        [c[0].text == r["completion"].strip() for c, r in zip(replies, held_out, strict=True)]
    )
    assert accuracy > 0.7
    assert all(c[0].finish_reason == "stop" for c in replies)


def test_characters_split_over_tokens_come_out_whole(tmp_path: Path) -> None:
    """Labels whose characters span several byte tokens are generated intact, offsets in chars."""
    labels = [" 猫咪", " 🦄 unicorn"]
    rows = [
        {"prompt": f"Animal {i}: {'horn' if i % 2 else 'cat'} ->", "completion": labels[i % 2]}
        for i in range(40)
    ]
    request = TrainingRequest(
        train_path=write_jsonl(tmp_path / "t.jsonl", rows),
        base_model="davinci-002",
        hyperparameters=resolve_hyperparameters(40),
    )
    model = load_model(train(request, out_dir=tmp_path / "out").model_path)
    prompt = "Animal 99: cat ->"
    choice = model.complete([prompt], max_tokens=20, temperature=0, logprobs=1)[0][0]
    assert choice.text == " 猫咪"
    assert len(choice.tokens) > 2
    assert choice.text_offset[0] == len(prompt)
    assert all(o <= len(prompt + choice.text) for o in choice.text_offset)
    stopped = model.complete([prompt], max_tokens=20, temperature=0, stop="咪")[0][0]
    assert (stopped.text, stopped.finish_reason) == (" 猫", "stop")
