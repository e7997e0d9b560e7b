"""However a label is spelled, the class a model answers is the class it gives most probability.

A real model is trained on labels drawn by hypothesis (trailing punctuation that merges with the
stop, newlines, shared prefixes, several-token labels, stops of one or more characters), then
asked with logprobs the way the evaluation asks; `class_probabilities` must agree with the answer.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftkit.backend.training import TrainingRequest, load_model, train
from ftkit.backend.training.hyperparameters import resolve_hyperparameters
from ftkit.data.tokens import get_encoding
from ftkit.evaluate import OTHER, class_probabilities, class_token_paths, match_label

WORDS = ["spam", "ham", "A", "B", "yes", "no", "very good", "very bad", "not sure", "ok"]
ENDINGS = ["", ".", ")", "!", ":", ".\n", " .", "?!"]
STOPS = ["\n", "\n\n", " END", "###"]
CUES = [["win", "prize", "cash"], ["lunch", "tomorrow", "call"], ["meeting", "notes", "agenda"]]


@st.composite
def spellings(draw: st.DrawFn) -> tuple[list[str], str]:
    """Two or three distinct labels (leading space or not, a shared word or prefix) and a stop."""
    stop = draw(st.sampled_from(STOPS))
    n = draw(st.integers(2, 3))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=n, max_size=n, unique=True))
    if draw(st.booleans()):  # shared prefix: the second label extends the first
        words[1] = words[0] + draw(st.sampled_from(["my", " more", "s"]))
    space = draw(st.sampled_from(["", " "]))
    labels = [space + w + draw(st.sampled_from(ENDINGS)) for w in words]
    labels = [label for label in labels if stop not in label]
    return labels, stop


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spellings())
def test_the_answered_class_has_the_highest_probability(spelled: tuple[list[str], str]) -> None:
    labels, stop = spelled
    if len(set(labels)) < 2:
        return
    labels = sorted(set(labels))
    rng = random.Random(0)
    rows = []
    for i in range(90):
        k = i % len(labels)
        words = rng.sample(CUES[k], 2) + rng.sample(["please", "today", "the", "a"], 2)
        rows.append({"prompt": " ".join(words) + " ->", "completion": labels[k] + stop})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        request = TrainingRequest(
            train_path=path,
            base_model="babbage-002",
            hyperparameters=resolve_hyperparameters(len(rows)),
            compute_classification_metrics=True,
        )
        model = load_model(train(request, out_dir=Path(tmp)).model_path)
    paths = class_token_paths(labels, get_encoding("cl100k_base"), stop)
    prompts = [" ".join(CUES[k][:2]) + " please ->" for k in range(len(labels))]
    prompts.append("please today the a ->")  # no cue: whichever class, it must agree
    max_tokens = max(len(p) for p in paths.values())
    for prompt in prompts:
        (choice,) = model.complete(
            [prompt], max_tokens=max_tokens, temperature=0, logprobs=5, stop=stop
        )[0]
        answered = match_label(choice.text, labels, stop)
        assert answered != OTHER, (choice.text, labels)
        probabilities = class_probabilities(paths, choice, stop).probabilities
        best = max(probabilities, key=probabilities.__getitem__)
        assert probabilities[answered] == probabilities[best], (answered, probabilities)
