"""Training learns, and every number it reports comes from the model's own predictions."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from training_fixtures import RecordingHooks, tickets

from ftkit.backend.training import (
    TrainingDataError,
    TrainingRequest,
    TrainingStopped,
    base_model,
    load_model,
    resolve_hyperparameters,
    train,
)
from ftkit.backend.training.examples import Dataset, Example
from ftkit.backend.training.learners import vectorizer_for

Build = Callable[..., TrainingRequest]


def epoch_means(hooks: RecordingHooks) -> list[float]:
    """Mean training loss of each epoch's steps."""
    epochs = sorted({s.epoch for s in hooks.steps})
    return [float(np.mean([s.train_loss for s in hooks.steps if s.epoch == e])) for e in epochs]


def greedy_labels(model_path: Path, rows: list[dict], continued: bool = False) -> list[str]:
    """The saved model's temperature-0 completions of the rows' prompts.

    continued: with the prompt features a run continuing this model on `rows` uses (it adds
    their document frequencies to the model's, which moves near-ties).
    """
    model = load_model(model_path)
    if continued:
        examples = [Example(r["prompt"], r["completion"]) for r in rows]
        data = Dataset("prompt_completion", examples, len(rows))
        model.vectorizer = vectorizer_for(model, model.encoding, data)
    choices = model.complete([r["prompt"] for r in rows], max_tokens=8, temperature=0)
    return [c[0].text for c in choices]


def test_more_epochs_lower_the_training_loss(make_request: Build, tmp_path: Path) -> None:
    """On learnable data each epoch's mean training loss is below the previous one's."""
    hooks = RecordingHooks()
    hp = resolve_hyperparameters(300, n_epochs=4, batch_size=8)
    train(make_request(tickets(300, seed=1), hyperparameters=hp), hooks, tmp_path / "out")
    means = epoch_means(hooks)
    assert len(means) == 4
    assert all(later < earlier for earlier, later in itertools.pairwise(means))


def test_held_out_accuracy_beats_the_majority_class(make_request: Build, tmp_path: Path) -> None:
    """Greedy predictions on a held-out set beat always answering the most common label."""
    train_rows, held_out = tickets(400, seed=2), tickets(200, seed=3)
    outcome = train(make_request(train_rows), out_dir=tmp_path / "out")
    predicted = greedy_labels(outcome.model_path, held_out)
    truth = [r["completion"] for r in held_out]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    majority = Counter(truth).most_common(1)[0][1] / len(truth)
    assert outcome.kind == "classifier"
    assert accuracy > majority + 0.3


def test_step_metrics_are_the_models_own_predictions(make_request: Build, tmp_path: Path) -> None:
    """A step's accuracy equals the accuracy of the model it started from, recomputed.

    Continue a checkpoint with one full-data batch: step 1 is scored before the update, so its
    sequence accuracy is the checkpoint's greedy accuracy on those examples.
    """
    rows = tickets(120, seed=4)
    parent = RecordingHooks()
    hp = resolve_hyperparameters(120, n_epochs=1, batch_size=16)
    train(make_request(rows, hyperparameters=hp), parent, tmp_path / "parent")
    checkpoint = parent.checkpoints[0][1]
    expected = np.mean(
        [
            p == r["completion"]
            for p, r in zip(greedy_labels(checkpoint, rows, continued=True), rows, strict=True)
        ]
    )
    child = RecordingHooks()
    one_batch = resolve_hyperparameters(120, n_epochs=1, batch_size=120)
    request = make_request(rows, hyperparameters=one_batch, parent_model_path=checkpoint)
    train(request, child, tmp_path / "child")
    assert pytest.approx(expected) == child.steps[0].train_sequence_accuracy


def test_classification_metrics_match_the_checkpoint(make_request: Build, tmp_path: Path) -> None:
    """classification/accuracy at an epoch end is the checkpoint's accuracy on the validation set."""
    train_rows, valid_rows = tickets(150, seed=5), tickets(60, seed=6)
    hooks = RecordingHooks()
    request = make_request(
        train_rows, valid_rows, compute_classification_metrics=True, classification_n_classes=3
    )
    train(request, hooks, tmp_path / "out")
    for _, checkpoint, metrics in hooks.checkpoints:
        predicted = greedy_labels(checkpoint, valid_rows)
        accuracy = np.mean(
            [p == r["completion"] for p, r in zip(predicted, valid_rows, strict=True)]
        )
        assert metrics.classification is not None
        assert pytest.approx(accuracy) == metrics.classification["classification/accuracy"]


def test_binary_columns_and_beta_names(make_request: Build, tmp_path: Path) -> None:
    """Binary metrics carry the legacy columns, one f{beta} per beta, only at epoch ends."""
    labels = [" billing\n", " shipping\n"]
    hooks = RecordingHooks()
    request = make_request(
        tickets(100, seed=7, labels=labels),
        tickets(40, seed=8, labels=labels),
        compute_classification_metrics=True,
        classification_positive_class=" billing\n",
        classification_betas=[0.5, 1, 2],
    )
    train(request, hooks, tmp_path / "out")
    with_metrics = [s for s in hooks.steps if s.classification is not None]
    assert [m for _, _, m in hooks.checkpoints] == with_metrics
    assert {
        "classification/accuracy",
        "classification/precision",
        "classification/recall",
        "classification/auroc",
        "classification/auprc",
        "classification/f1.0",
        "classification/f0.5",
        "classification/f2.0",
    } == set(with_metrics[-1].classification or {})
    assert all(s.full_valid_loss is not None for s in with_metrics)
    assert any(s.valid_loss is not None for s in hooks.steps)


def test_no_classification_metrics_unless_asked(make_request: Build, tmp_path: Path) -> None:
    """Without compute_classification_metrics no step carries classification values."""
    hooks = RecordingHooks()
    train(make_request(tickets(60, seed=9), tickets(20, seed=10)), hooks, tmp_path / "out")
    assert all(s.classification is None for s in hooks.steps)
    assert hooks.steps[-1].full_valid_token_accuracy is not None


def test_steps_batches_and_counters(make_request: Build, tmp_path: Path) -> None:
    """One step per batch per epoch; examples and real tokens accumulate; one checkpoint per epoch."""
    hooks = RecordingHooks()
    hp = resolve_hyperparameters(50, n_epochs=3, batch_size=8)
    outcome = train(make_request(tickets(50, seed=11), hyperparameters=hp), hooks, tmp_path / "o")
    assert 21 == outcome.total_steps == len(hooks.steps)
    assert {21} == set(hooks.totals)
    assert hooks.steps[-1].elapsed_examples == 150
    assert [epoch for epoch, _, _ in hooks.checkpoints] == [1, 2, 3]
    assert outcome.trained_tokens == hooks.steps[-1].elapsed_tokens
    assert all(load_model(path).kind == "classifier" for _, path, _ in hooks.checkpoints)


def test_should_stop_raises_training_stopped(make_request: Build, tmp_path: Path) -> None:
    """When should_stop() turns true, training stops before the next step."""
    hooks = RecordingHooks(stop_after=3)
    with pytest.raises(TrainingStopped):
        train(make_request(tickets(60, seed=12)), hooks, tmp_path / "out")
    assert len(hooks.steps) == 3


def test_warm_start_continues_from_the_parent(make_request: Build, tmp_path: Path) -> None:
    """Fine-tuning a fine-tuned model starts where it ended: a lower first loss than from scratch."""
    rows = tickets(200, seed=13)
    parent = train(make_request(rows), out_dir=tmp_path / "parent")
    fresh, warm = RecordingHooks(), RecordingHooks()
    more = tickets(100, seed=14)
    train(make_request(more), fresh, tmp_path / "fresh")
    train(make_request(more, parent_model_path=parent.model_path), warm, tmp_path / "warm")
    first = slice(0, 10)
    assert np.mean([s.train_loss for s in warm.steps[first]]) < np.mean(
        [s.train_loss for s in fresh.steps[first]]
    )
    assert np.mean([s.train_sequence_accuracy for s in warm.steps[first]]) > 0.7


def free_text_rows(n: int) -> list[dict[str, str]]:
    """Free text: each prompt names a distinct item, each completion describes it."""
    colours = ["red", "blue", "green", "yellow", "black", "white", "purple"]
    things = ["car", "house", "kite", "boat", "lamp", "chair", "tent"]
    return [
        {
            "prompt": f"Item {i}: {colours[i % 7]} {things[(i // 7) % 7]} ->",
            "completion": f" A {colours[i % 7]} {things[(i // 7) % 7]} numbered {i}.\n",
        }
        for i in range(n)
    ]


def test_free_text_model_learns_its_training_data(make_request: Build, tmp_path: Path) -> None:
    """Free text trains the retrieval model: training prompts are answered exactly, base cannot."""
    rows = free_text_rows(60)
    hooks = RecordingHooks()
    outcome = train(make_request(rows), hooks, tmp_path / "out")
    assert outcome.kind == "retrieval"
    predicted = greedy_labels(outcome.model_path, rows)
    exact = np.mean([p == r["completion"] for p, r in zip(predicted, rows, strict=True)])
    base = base_model("babbage-002").complete(
        [r["prompt"] for r in rows], max_tokens=8, temperature=0
    )
    base_exact = np.mean([c[0].text == r["completion"] for c, r in zip(base, rows, strict=True)])
    assert exact > 0.9
    assert base_exact == 0.0
    means = epoch_means(hooks)
    assert means[-1] < means[0]


def test_prompt_loss_weight_enters_the_loss(make_request: Build, tmp_path: Path) -> None:
    """plw 0: the first loss is the untrained classifier's completion loss alone, log(3)/2 (a
    3-way first token, then a forced newline); plw > 0 adds the prompt tokens' loss."""
    rows = tickets(40, seed=15)
    first_losses = []
    for weight in (0.0, 0.1):
        hooks = RecordingHooks()
        hp = resolve_hyperparameters(40, n_epochs=1, batch_size=4, prompt_loss_weight=weight)
        train(make_request(rows, hyperparameters=hp), hooks, tmp_path / f"plw{weight}")
        first_losses.append(hooks.steps[0].train_loss)
    assert first_losses[0] == pytest.approx(np.log(3) / 2)
    assert first_losses[1] > first_losses[0]


def test_larger_learning_rate_multiplier_learns_faster(make_request: Build, tmp_path: Path) -> None:
    """Over one epoch, multiplier 0.1 learns; 0.001 barely leaves the untrained loss."""
    rows = tickets(200, seed=16)
    means = []
    for multiplier in (0.001, 0.1):
        hooks = RecordingHooks()
        hp = resolve_hyperparameters(
            200, n_epochs=1, batch_size=4, learning_rate_multiplier=multiplier, prompt_loss_weight=0
        )
        train(make_request(rows, hyperparameters=hp), hooks, tmp_path / f"lr{multiplier}")
        means.append(np.mean([s.train_loss for s in hooks.steps]))
    assert means[0] == pytest.approx(np.log(3) / 2, abs=0.01)
    assert means[1] < means[0] - 0.01


def test_many_labels_use_retrieval_with_classification_metrics(
    make_request: Build, tmp_path: Path
) -> None:
    """Over 64 labels fall back to the retrieval model, which still reports classification/*."""
    rows = free_text_rows(90)
    hooks = RecordingHooks()
    outcome = train(
        make_request(
            rows, rows[:30], compute_classification_metrics=True, classification_n_classes=90
        ),
        hooks,
        tmp_path / "out",
    )
    assert outcome.kind == "retrieval"
    final = hooks.checkpoints[-1][2].classification
    assert final is not None
    assert final["classification/accuracy"] == pytest.approx(1.0)


def test_free_text_warm_start_keeps_what_the_parent_learned(
    make_request: Build, tmp_path: Path
) -> None:
    """A retrieval child remembers its parent's examples and learns the new ones too."""
    rows = free_text_rows(80)
    first, second = rows[:40], rows[40:]
    parent = train(make_request(first), out_dir=tmp_path / "parent")
    child = train(
        make_request(second, parent_model_path=parent.model_path), out_dir=tmp_path / "child"
    )
    for part in (first, second):
        predicted = greedy_labels(child.model_path, part)
        assert np.mean([p == r["completion"] for p, r in zip(predicted, part, strict=True)]) > 0.9


def test_bad_validation_file_is_invalid_validation_file(
    make_request: Build, tmp_path: Path
) -> None:
    """A broken validation file fails with invalid_validation_file and param validation_file."""
    request = make_request(tickets(20, seed=17), [{"prompt": "x", "completion": 3}])
    with pytest.raises(TrainingDataError) as caught:
        train(request, out_dir=tmp_path / "out")
    assert (caught.value.code, caught.value.param) == ("invalid_validation_file", "validation_file")
    assert "Line 1" in caught.value.message


def test_prompt_loss_weight_zero_learns_nothing_about_prompts(
    make_request: Build, tmp_path: Path
) -> None:
    """With plw 0 echoed prompt tokens score uniformly; with plw 1 frequent tokens score higher."""
    rows = tickets(40, seed=18)
    echoed = []
    for weight in (0.0, 1.0):
        hp = resolve_hyperparameters(40, n_epochs=1, prompt_loss_weight=weight)
        outcome = train(make_request(rows, hyperparameters=hp), out_dir=tmp_path / f"w{weight}")
        model = load_model(outcome.model_path)
        choice = model.complete([rows[0]["prompt"]], max_tokens=0, echo=True)[0][0]
        echoed.append((model.encoding.n_vocab, choice.token_logprobs[1:]))
    n_vocab, uniform = echoed[0]
    assert uniform == pytest.approx([-np.log(n_vocab)] * len(uniform))
    assert np.mean(echoed[1][1]) > -np.log(n_vocab) + 3
