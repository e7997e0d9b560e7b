"""Training files: both formats are read, bad ones fail with the API's error codes and texts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from training_fixtures import tickets, write_jsonl

from ftkit.backend.training import TrainingDataError, TrainingRequest, render_chat, train
from ftkit.backend.training.examples import read_dataset


def test_fewer_than_ten_examples_is_invalid_n_examples(
    make_request: Callable[..., TrainingRequest], tmp_path: Path
) -> None:
    """7 examples → invalid_n_examples with the real message, param training_file."""
    with pytest.raises(TrainingDataError) as caught:
        train(make_request(tickets(7, seed=1)), out_dir=tmp_path / "out")
    assert caught.value.code == "invalid_n_examples"
    assert caught.value.param == "training_file"
    assert (
        caught.value.message == "Training file has 7 example(s), but must have at least 10 examples"
    )


def test_bad_line_is_named(tmp_path: Path) -> None:
    """A line that is not a JSON object fails as invalid_training_file naming its line."""
    path = write_jsonl(tmp_path / "t.jsonl", tickets(12, seed=1))
    with path.open("a") as handle:
        handle.write("[1, 2]\n")
    with pytest.raises(TrainingDataError) as caught:
        read_dataset(path, min_examples=10)
    assert caught.value.code == "invalid_training_file"
    assert "Line 13" in caught.value.message


def test_missing_completion_is_named(tmp_path: Path) -> None:
    """A prompt without a completion is reported with its line number."""
    rows = [*tickets(3, seed=1), {"prompt": "x"}]
    with pytest.raises(TrainingDataError, match='Line 4: expected a string "completion"'):
        read_dataset(write_jsonl(tmp_path / "t.jsonl", rows))


def test_chat_trains_on_weighted_assistant_turns(tmp_path: Path) -> None:
    """Each assistant message with weight ≠ 0 is one example; its prompt is the conversation so far."""
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "weight": 0},
        {"role": "user", "content": "Sum 2+2"},
        {"role": "assistant", "content": "4"},
    ]
    dataset = read_dataset(write_jsonl(tmp_path / "c.jsonl", [{"messages": conversation}]))
    assert dataset.format == "chat"
    assert dataset.n_records == 1
    assert [(render_chat(conversation[:4]), "4")] == [
        (e.prompt, e.completion) for e in dataset.examples
    ]
    assert render_chat(conversation[:4]).endswith("<|im_start|>assistant\n")
