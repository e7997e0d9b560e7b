"""train(): read the data, pick the model for it, run minibatch steps, report honest metrics.

Which model: label data — at most 64 distinct completions, and either fewer of them than a third
of the examples (the legacy `infer_task_type` rule) or `compute_classification_metrics` asked
for — gets a `SoftmaxSGDClassifier` over hashed prompt features; any other data gets the
`RetrievalGenerator` (see `retrieval`), whose classification metrics, if asked for, use each
completion's share of the neighbour weights as its probability. A parent model of the same kind
is continued (weights, memory, β, token counts, document frequencies); a parent of the other kind
passes on its prompt-token model and document frequencies.

Hyperparameters: `n_epochs` passes over the training examples, shuffled each epoch by `seed`;
one optimizer step per `batch_size` examples (the last batch of an epoch may be smaller);
the classifier's step size is 20 × `learning_rate_multiplier` (base rate 20: features are
L2-normalised, so 0.05–0.2 gives steps of 1–4); `prompt_loss_weight` is the weight of a prompt
token wherever prompt tokens count: in every reported loss, in what the prompt-token model learns
(each prompt token adds `prompt_loss_weight` to its count, so at 0 the model learns nothing about
prompts and scores them uniformly, e.g. under `echo`), and in the retrieval model's background.

Metrics per step, all computed before the model learns from the step's batch: training loss,
sequence accuracy and token accuracy on the batch; every `interval` steps (an eighth of an
epoch, at least 1) the same on the next validation batch of `batch_size` examples; at each
epoch end, full_valid_loss / full_valid_token_accuracy on the whole validation set and, with
compute_classification_metrics, the `classification/*` values, then a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
import tiktoken
from pydantic import BaseModel, ConfigDict, Field

from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.decoding import Candidates
from ftkit.backend.training.examples import MIN_EXAMPLES, Dataset, TrainingDataError, read_dataset
from ftkit.backend.training.features import PromptVectorizer, take_rows
from ftkit.backend.training.hyperparameters import ResolvedHyperparameters
from ftkit.backend.training.lm import UnigramLM
from ftkit.backend.training.metrics import (
    BatchScore,
    TokenScores,
    classification_metrics,
    score_batch,
    teacher_forced_scores,
)
from ftkit.backend.training.model import (
    BACKGROUND_ALPHA,
    PROMPT_LM_ALPHA,
    ClassifierHead,
    CompletionModel,
    RetrievalHead,
    load_model,
)
from ftkit.backend.training.retrieval import (
    BASE_BETA_LEARNING_RATE,
    INITIAL_BETA,
    RetrievalGenerator,
    completion_table,
)
from ftkit.data.tokens import encoding_name, get_encoding

BASE_LEARNING_RATE = 20.0
VALIDATIONS_PER_EPOCH = 8
MAX_CLASSES = 64


class TrainingStopped(Exception):
    """hooks.should_stop() asked training to stop (job cancelled or paused)."""


class TrainingRequest(BaseModel):
    """Everything one training run needs."""

    model_config = ConfigDict(extra="forbid")

    train_path: Path
    validation_path: Path | None = None
    base_model: str
    parent_model_path: Path | None = None
    hyperparameters: ResolvedHyperparameters
    seed: int = 0
    compute_classification_metrics: bool = False
    classification_n_classes: int | None = None
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None


@dataclass(slots=True)
class StepMetrics:
    """One training step's row: legacy result columns and jobs-dialect metrics in one place.

    A plain dataclass: one is built per step, and pydantic's construction cost ~60 µs each.
    """

    step: int
    epoch: int
    elapsed_tokens: int
    elapsed_examples: int
    train_loss: float
    train_sequence_accuracy: float
    train_token_accuracy: float
    valid_loss: float | None = None
    valid_sequence_accuracy: float | None = None
    valid_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_token_accuracy: float | None = None
    classification: dict[str, float] | None = None


class TrainingOutcome(BaseModel):
    """The trained model's file and the run's totals."""

    model_path: Path
    total_steps: int
    trained_tokens: int
    final: StepMetrics
    kind: str = Field(description='"classifier" or "retrieval"')
    seconds: float


class TrainingHooks(Protocol):
    """Callbacks the caller (the server's worker) passes to train()."""

    def on_step(self, metrics: StepMetrics, total_steps: int) -> None: ...

    def on_epoch_end(self, epoch: int, checkpoint_path: Path, metrics: StepMetrics) -> None: ...

    def should_stop(self) -> bool: ...


class NoHooks:
    """Hooks that do nothing and never stop."""

    def on_step(self, metrics: StepMetrics, total_steps: int) -> None:
        """Ignore the step."""

    def on_epoch_end(self, epoch: int, checkpoint_path: Path, metrics: StepMetrics) -> None:
        """Ignore the checkpoint."""

    def should_stop(self) -> bool:
        """Never stop."""
        return False


class _Split:
    """One data split, tokenized and featurized once up front."""

    def __init__(
        self, dataset: Dataset, encoding: tiktoken.Encoding, vectorizer: PromptVectorizer
    ) -> None:
        prompts = [e.prompt for e in dataset.examples]
        self.completions = [e.completion for e in dataset.examples]
        eot = encoding.eot_token
        # one call per text: encode_ordinary_batch's thread pool costs more than it saves here
        encode = encoding.encode_ordinary
        self.prompt_tokens = [np.array(encode(p), dtype=np.int64) for p in prompts]
        completion_tokens = [encode(c) for c in self.completions]
        self.targets = [np.array([*t, eot], dtype=np.int64) for t in completion_tokens]
        self.n_tokens = np.array(
            [len(p) + len(c) for p, c in zip(self.prompt_tokens, completion_tokens, strict=True)]
        )
        self.features = vectorizer.transform(prompts)

    def __len__(self) -> int:
        return len(self.completions)

    def prompt_batch(self, rows: Sequence[int]) -> np.ndarray:
        return np.concatenate([self.prompt_tokens[i] for i in rows] or [np.zeros(0, np.int64)])


class _Learner(Protocol):
    model: CompletionModel

    def step(self, rows: np.ndarray) -> BatchScore: ...

    def evaluate(self, split: _Split, rows: np.ndarray) -> BatchScore: ...

    def class_probabilities(self, split: _Split) -> tuple[list[str], np.ndarray] | None: ...


def train(
    request: TrainingRequest, hooks: TrainingHooks | None = None, out_dir: Path = Path(".")
) -> TrainingOutcome:
    """Train a model on the request's data; checkpoint each epoch into `out_dir`.

    Raises TrainingDataError for unusable files (`invalid_n_examples` under 10 examples,
    `invalid_training_file` / `invalid_validation_file` naming the bad line) and TrainingStopped
    when hooks.should_stop() turns true (polled before every step).
    """
    started = time.perf_counter()
    hooks = hooks or NoHooks()
    hp = request.hyperparameters
    encoding = get_encoding(encoding_name(request.base_model))
    train_data = read_dataset(request.train_path, min_examples=MIN_EXAMPLES)
    valid_data = (
        read_dataset(request.validation_path, param="validation_file")
        if request.validation_path
        else None
    )
    parent = load_model(request.parent_model_path) if request.parent_model_path else None
    vectorizer = _vectorizer(parent, encoding, train_data)
    train_split = _Split(train_data, encoding, vectorizer)
    valid_split = (
        _Split(valid_data, encoding, vectorizer) if valid_data and valid_data.examples else None
    )
    positive = _positive_class(request, train_split, valid_split)
    learner = _make_learner(
        request, train_data, train_split, valid_split, parent, encoding, vectorizer
    )

    n = len(train_split)
    steps_per_epoch = -(-n // hp.batch_size)
    total_steps = steps_per_epoch * hp.n_epochs
    interval = max(1, steps_per_epoch // VALIDATIONS_PER_EPOCH)
    rng = np.random.default_rng(request.seed)
    valid_batches = _cycle(rng, len(valid_split), hp.batch_size) if valid_split else None
    step, elapsed_tokens, elapsed_examples = 0, 0, 0
    metrics: StepMetrics | None = None
    for epoch in range(1, hp.n_epochs + 1):
        order = rng.permutation(n)
        for start in range(0, n, hp.batch_size):
            if hooks.should_stop():
                raise TrainingStopped(f"training stopped before step {step + 1}/{total_steps}")
            rows = order[start : start + hp.batch_size]
            step += 1
            score = learner.step(rows)
            elapsed_tokens += int(train_split.n_tokens[rows].sum())
            elapsed_examples += len(rows)
            values: dict[str, Any] = {
                "train_loss": score.loss,
                "train_sequence_accuracy": score.sequence_accuracy,
                "train_token_accuracy": score.token_accuracy,
            }
            if valid_split is not None and valid_batches is not None and step % interval == 0:
                valid = learner.evaluate(valid_split, next(valid_batches))
                values |= {
                    "valid_loss": valid.loss,
                    "valid_sequence_accuracy": valid.sequence_accuracy,
                    "valid_token_accuracy": valid.token_accuracy,
                }
            epoch_end = start + hp.batch_size >= n
            if epoch_end and valid_split is not None:
                values |= _full_validation(request, learner, valid_split, positive)
            metrics = StepMetrics(
                step=step,
                epoch=epoch,
                elapsed_tokens=elapsed_tokens,
                elapsed_examples=elapsed_examples,
                **values,
            )
            hooks.on_step(metrics, total_steps)
            if epoch_end:
                checkpoint = learner.model.save(out_dir / f"checkpoint-epoch-{epoch}.npz")
                hooks.on_epoch_end(epoch, checkpoint, metrics)
    assert metrics is not None
    model_path = learner.model.save(out_dir / "model.npz")
    return TrainingOutcome(
        model_path=model_path,
        total_steps=total_steps,
        trained_tokens=elapsed_tokens,
        final=metrics,
        kind=learner.model.kind,
        seconds=time.perf_counter() - started,
    )


def _cycle(rng: np.random.Generator, size: int, batch_size: int) -> Iterator[np.ndarray]:
    """Validation batches: a seeded order of the validation rows, walked round and round."""
    order = rng.permutation(size)
    cursor = 0
    while True:
        yield np.take(order, range(cursor, cursor + batch_size), mode="wrap")
        cursor = (cursor + batch_size) % size


def _full_validation(
    request: TrainingRequest, learner: _Learner, split: _Split, positive: str | None
) -> dict[str, Any]:
    """Epoch-end metrics on the whole validation set (and classification/* when asked for)."""
    full = learner.evaluate(split, np.arange(len(split)))
    values: dict[str, Any] = {
        "full_valid_loss": full.loss,
        "full_valid_token_accuracy": full.token_accuracy,
    }
    probabilities = (
        learner.class_probabilities(split) if request.compute_classification_metrics else None
    )
    if probabilities is not None:
        labels, probs = probabilities
        betas = request.classification_betas or []
        values["classification"] = classification_metrics(
            labels, probs, split.completions, positive, betas
        )
    return values


def use_classifier(completions: Sequence[str], classification_metrics: bool) -> bool:
    """Classifier for label data: at most 64 distinct completions, and either fewer than a third
    of the examples (the legacy `infer_task_type` rule) or classification metrics asked for."""
    distinct = len(set(completions))
    return distinct <= MAX_CLASSES and (classification_metrics or distinct < len(completions) / 3)


def _make_learner(
    request: TrainingRequest,
    data: Dataset,
    train_split: _Split,
    valid_split: _Split | None,
    parent: CompletionModel | None,
    encoding: tiktoken.Encoding,
    vectorizer: PromptVectorizer,
) -> _Learner:
    prompt_lm = (
        UnigramLM(encoding.n_vocab, PROMPT_LM_ALPHA, parent.prompt_lm.counts.copy())
        if parent is not None
        else UnigramLM(encoding.n_vocab, PROMPT_LM_ALPHA)
    )
    if use_classifier(train_split.completions, request.compute_classification_metrics):
        return _ClassifierLearner(
            request, data, train_split, valid_split, parent, vectorizer, prompt_lm
        )
    return _RetrievalLearner(request, data, train_split, parent, vectorizer, prompt_lm, encoding)


def _vectorizer(
    parent: CompletionModel | None, encoding: tiktoken.Encoding, data: Dataset
) -> PromptVectorizer:
    """Document frequencies of the training prompts, added to the parent's when continuing."""
    prompts = [e.prompt for e in data.examples]
    if parent is None:
        return PromptVectorizer(encoding.name).fit(prompts)
    vectorizer = PromptVectorizer(encoding.name, parent.vectorizer.n_features).fit([])
    vectorizer.document_frequency_ += parent.vectorizer.document_frequency_
    vectorizer.n_documents_ = parent.vectorizer.n_documents_
    return vectorizer.partial_fit(prompts)


class _ClassifierLearner:
    """Minibatch SGD on the softmax classifier."""

    def __init__(
        self,
        request: TrainingRequest,
        data: Dataset,
        train_split: _Split,
        valid_split: _Split | None,
        parent: CompletionModel | None,
        vectorizer: PromptVectorizer,
        prompt_lm: UnigramLM,
    ) -> None:
        hp = request.hyperparameters
        labels = set(train_split.completions) | set(valid_split.completions if valid_split else [])
        classes = np.array(sorted(labels))
        learning_rate = BASE_LEARNING_RATE * hp.learning_rate_multiplier
        if parent is not None and isinstance(parent.head, ClassifierHead):
            estimator = parent.head.estimator.add_classes(classes)
            estimator.set_params(
                learning_rate=learning_rate,
                batch_size=hp.batch_size,
                n_epochs=hp.n_epochs,
                random_state=request.seed,
            )
        else:
            estimator = SoftmaxSGDClassifier(
                learning_rate=learning_rate,
                batch_size=hp.batch_size,
                n_epochs=hp.n_epochs,
                random_state=request.seed,
            )
            estimator.partial_fit(
                train_split.features[:0], np.array([], dtype=classes.dtype), classes=classes
            )
        encoding = get_encoding(encoding_name(request.base_model))
        self.head = ClassifierHead(estimator, encoding)
        self.model = CompletionModel(
            request.base_model, data.format, vectorizer, prompt_lm, self.head
        )
        self.split = train_split
        self.targets = np.searchsorted(estimator.classes_, train_split.completions)
        self.plw = hp.prompt_loss_weight

    def step(self, rows: np.ndarray) -> BatchScore:
        batch = take_rows(self.split.features, rows)
        probs = self.head.estimator.step(batch, self.targets[rows])
        scores = self.head.teacher_forced(probs, self.targets[rows])
        score = _score_rows(self.model, self.split, rows, scores, self.plw)
        self.model.prompt_lm.update(self.split.prompt_batch(rows), self.plw)
        return score

    def evaluate(self, split: _Split, rows: np.ndarray) -> BatchScore:
        probs = self.head.estimator.predict_proba(split.features[rows])
        targets = np.searchsorted(
            self.head.estimator.classes_, [split.completions[i] for i in rows]
        )
        scores = self.head.teacher_forced(probs, targets)
        return _score_rows(self.model, split, rows, scores, self.plw)

    def class_probabilities(self, split: _Split) -> tuple[list[str], np.ndarray] | None:
        return self.head.labels, self.head.estimator.predict_proba(split.features)


class _RetrievalLearner:
    """Memory growth, SGD on β and background counts, one batch at a time."""

    def __init__(
        self,
        request: TrainingRequest,
        data: Dataset,
        train_split: _Split,
        parent: CompletionModel | None,
        vectorizer: PromptVectorizer,
        prompt_lm: UnigramLM,
        encoding: tiktoken.Encoding,
    ) -> None:
        hp = request.hyperparameters
        inherited = (
            parent.head.generator
            if parent is not None and isinstance(parent.head, RetrievalHead)
            else None
        )
        table, ids = completion_table(
            train_split.targets, inherited.completions if inherited else None
        )
        if inherited is not None:
            memory = sp.vstack([inherited.memory, train_split.features], format="csr")
            targets = np.concatenate([inherited.targets, ids])
            background = UnigramLM(
                encoding.n_vocab, BACKGROUND_ALPHA, inherited.background.lm.counts.copy()
            )
            beta = inherited.beta
            offset = inherited.memory.shape[0]
        else:
            memory, targets = train_split.features, ids
            background = UnigramLM(encoding.n_vocab, BACKGROUND_ALPHA)
            beta, offset = INITIAL_BETA, 0
        self.generator = RetrievalGenerator(memory, targets, table, background, beta)
        self.available = np.zeros(memory.shape[0], dtype=bool)
        self.available[:offset] = True
        self.offset = offset
        self.ids = ids
        self.texts = [encoding.decode(seq[:-1].tolist()) for seq in table]
        self.model = CompletionModel(
            request.base_model, data.format, vectorizer, prompt_lm, RetrievalHead(self.generator)
        )
        self.split = train_split
        self.plw = hp.prompt_loss_weight
        self.learning_rate = BASE_BETA_LEARNING_RATE * hp.learning_rate_multiplier
        self.eot = encoding.eot_token

    def step(self, rows: np.ndarray) -> BatchScore:
        rows_nn, sims = self.generator.neighbours(self.split.features[rows], self.available)
        candidates = self.generator.candidates(rows_nn, self.generator.weights(rows_nn, sims))
        scores = teacher_forced_scores(candidates, [self.split.targets[i] for i in rows], self.eot)
        score = _score_rows(self.model, self.split, rows, scores, self.plw)
        self.generator.beta_step(rows_nn, sims, self.ids[rows], self.learning_rate)
        self.available[self.offset + rows] = True
        prompt_tokens = self.split.prompt_batch(rows)
        self.model.prompt_lm.update(prompt_tokens, self.plw)
        background = self.generator.background.lm
        background.update(np.concatenate([self.split.targets[i] for i in rows]))
        background.update(prompt_tokens, self.plw)
        return score

    def evaluate(self, split: _Split, rows: np.ndarray) -> BatchScore:
        candidates = self._candidates(split.features[rows])
        scores = teacher_forced_scores(candidates, [split.targets[i] for i in rows], self.eot)
        return _score_rows(self.model, split, rows, scores, self.plw)

    def class_probabilities(self, split: _Split) -> tuple[list[str], np.ndarray] | None:
        """Each completion's share of the neighbour weights (uniform with no neighbours)."""
        labels = sorted(set(split.completions) | set(self.split.completions))
        rows_nn, sims = self.generator.neighbours(split.features, self.available)
        weights = self.generator.weights(rows_nn, sims)
        column = {label: j for j, label in enumerate(labels)}
        probs = np.zeros((len(split), len(labels)))
        for i, (row, weight) in enumerate(zip(rows_nn, weights, strict=True)):
            for neighbour, w in zip(row[row >= 0], weight[row >= 0], strict=True):
                label = self.texts[self.generator.targets[neighbour]]
                if label in column:
                    probs[i, column[label]] += w
        totals = probs.sum(axis=1, keepdims=True)
        return labels, np.where(totals > 0, probs / np.maximum(totals, 1e-300), 1 / len(labels))

    def _candidates(self, features: sp.csr_matrix) -> Candidates:
        rows, sims = self.generator.neighbours(features, self.available)
        return self.generator.candidates(rows, self.generator.weights(rows, sims))


def _score_rows(
    model: CompletionModel, split: _Split, rows: np.ndarray, scores: TokenScores, plw: float
) -> BatchScore:
    """Add the model's prompt-token loss on these rows to their completion token scores."""
    prompt_tokens = split.prompt_batch(rows)
    prompt_nll = -float(model.prompt_lm.logprob(prompt_tokens).sum())
    return score_batch(scores, prompt_nll, len(prompt_tokens), plw)


def _positive_class(
    request: TrainingRequest, train_split: _Split, valid_split: _Split | None
) -> str | None:
    """The positive label for binary metrics, matched exactly or ignoring surrounding spaces."""
    wanted = request.classification_positive_class
    if not request.compute_classification_metrics or wanted is None:
        return None
    if request.classification_n_classes not in (None, 2):
        return None
    labels = set(train_split.completions) | set(valid_split.completions if valid_split else [])
    if wanted in labels:
        return wanted
    matches = [label for label in labels if label.strip() == wanted.strip()]
    if len(matches) == 1:
        return matches[0]
    message = (
        f"classification_positive_class {wanted!r} is not a completion of the training or "
        f"validation file; use one of: {', '.join(sorted(map(repr, labels))[:10])}"
    )
    raise TrainingDataError(
        "invalid_classification_positive_class", message, "classification_positive_class"
    )
