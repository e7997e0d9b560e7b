"""Learners: one training step and honest evaluation for each kind of model.

A learner owns a `CompletionModel` while it trains. `step(rows)` scores the training rows with
the model as it is, then learns from them; `evaluate` scores any split without learning;
`class_probabilities` gives the per-label probabilities the `classification/*` metrics use.

Which learner: label data — at most 64 distinct completions, and either fewer of them than a
third of the examples (the legacy `infer_task_type` rule) or `compute_classification_metrics`
asked for — gets the softmax classifier (minibatch SGD, step size 20 × learning_rate_multiplier
at the start, decaying linearly over the run, the last half of the iterates averaged: see
`classifier`; features are L2-normalised, so 0.05–0.2 gives first steps of 1–4); any other data gets the retrieval
model (see `retrieval`). A parent model of the same kind is continued (weights, memory, β, token
counts, document frequencies); a parent of the other kind passes on its prompt-token model and
document frequencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import scipy.sparse as sp
import tiktoken

from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.decoding import Candidates
from ftkit.backend.training.examples import Dataset
from ftkit.backend.training.features import PromptVectorizer, take_rows
from ftkit.backend.training.heads import ClassifierHead, RetrievalHead
from ftkit.backend.training.lm import UnigramLM
from ftkit.backend.training.metrics import (
    BatchScore,
    TokenScores,
    score_batch,
    teacher_forced_scores,
)
from ftkit.backend.training.model import BACKGROUND_ALPHA, PROMPT_LM_ALPHA, CompletionModel
from ftkit.backend.training.retrieval import (
    BASE_BETA_LEARNING_RATE,
    INITIAL_BETA,
    RetrievalGenerator,
    completion_table,
)
from ftkit.backend.training.storage import load_model, save_model
from ftkit.data.tokens import encoding_name, get_encoding

if TYPE_CHECKING:
    from ftkit.backend.training.trainer import TrainingRequest

BASE_LEARNING_RATE = 20.0
MAX_CLASSES = 64


class Split:
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

    def prompt_batch(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The prompt tokens of these rows, concatenated."""
        return np.concatenate([self.prompt_tokens[i] for i in rows] or [np.zeros(0, np.int64)])


class SplitView(Protocol):
    """What the training loop needs of a split, whichever learner prepared it."""

    completions: list[str]
    n_tokens: np.ndarray

    def __len__(self) -> int: ...


class Learner(Protocol):
    """One kind of training: a step, evaluation, class probabilities, checkpoints.

    `resumed_step` is the step a restarted job's saved state was taken at (0: from the start).
    """

    resumed_step: int

    @property
    def kind(self) -> str:
        """What learned: "classifier", "retrieval" or "transformer"."""
        ...

    def step(self, rows: np.ndarray) -> BatchScore:
        """Score these training rows with the model as it is, then learn from them."""
        ...

    def evaluate(self, split: Any, rows: np.ndarray) -> BatchScore:
        """Score rows of any split (as this learner prepared it); nothing is learned."""
        ...

    def class_probabilities(self, split: Any) -> tuple[list[str], np.ndarray] | None:
        """(labels, probabilities per row and label) for classification metrics."""
        ...

    def save(self, path: Path) -> Path:
        """Write a servable checkpoint at `path` (the learner picks the suffix); its path."""
        ...

    def save_state(self, step: int, epoch_end: bool) -> None:
        """Save what a restart needs to resume after `step` (or nothing)."""
        ...


class FastLearner:
    """What the two fast learners share: an `.npz` model, no resume state (re-running a job
    takes seconds)."""

    model: CompletionModel
    resumed_step = 0

    @property
    def kind(self) -> str:
        """ "classifier" or "retrieval"."""
        return self.model.kind

    def save(self, path: Path) -> Path:
        """The model as `<path>.npz`."""
        return save_model(self.model, path.with_suffix(".npz"))

    def save_state(self, step: int, epoch_end: bool) -> None:
        """Nothing to save: a restarted job re-runs from the start."""


def use_classifier(completions: Sequence[str], classification_metrics: bool) -> bool:
    """Classifier for label data: at most 64 distinct completions, and either fewer than a third
    of the examples (the legacy `infer_task_type` rule) or classification metrics asked for."""
    distinct = len(set(completions))
    return distinct <= MAX_CLASSES and (classification_metrics or distinct < len(completions) / 3)


def prepare_fast(
    request: TrainingRequest, train_data: Dataset, valid_data: Dataset | None
) -> tuple[Learner, Split, Split | None]:
    """The fast learner for this data and both splits, tokenized and featurized."""
    encoding = get_encoding(encoding_name(request.base_model))
    parent = load_model(request.parent_model_path) if request.parent_model_path else None
    vectorizer = vectorizer_for(parent, encoding, train_data)
    train_split = Split(train_data, encoding, vectorizer)
    valid_split = (
        Split(valid_data, encoding, vectorizer) if valid_data and valid_data.examples else None
    )
    learner = make_learner(
        request, train_data, train_split, valid_split, parent, encoding, vectorizer
    )
    return learner, train_split, valid_split


def make_learner(
    request: TrainingRequest,
    data: Dataset,
    train_split: Split,
    valid_split: Split | None,
    parent: CompletionModel | None,
    encoding: tiktoken.Encoding,
    vectorizer: PromptVectorizer,
) -> ClassifierLearner | RetrievalLearner:
    """The learner for this data (see the module docstring), continuing `parent` if given."""
    prompt_lm = (
        UnigramLM(encoding.n_vocab, PROMPT_LM_ALPHA, parent.prompt_lm.counts.copy())
        if parent is not None
        else UnigramLM(encoding.n_vocab, PROMPT_LM_ALPHA)
    )
    if use_classifier(train_split.completions, request.compute_classification_metrics):
        return ClassifierLearner(
            request, data, train_split, valid_split, parent, vectorizer, prompt_lm
        )
    return RetrievalLearner(request, data, train_split, parent, vectorizer, prompt_lm, encoding)


def vectorizer_for(
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


class ClassifierLearner(FastLearner):
    """Minibatch SGD on the softmax classifier."""

    def __init__(
        self,
        request: TrainingRequest,
        data: Dataset,
        train_split: Split,
        valid_split: Split | None,
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
        estimator.plan(hp.n_epochs * -(-len(train_split) // hp.batch_size))
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

    def evaluate(self, split: Split, rows: np.ndarray) -> BatchScore:
        probs = self.head.estimator.predict_proba(split.features[rows])
        targets = np.searchsorted(
            self.head.estimator.classes_, [split.completions[i] for i in rows]
        )
        scores = self.head.teacher_forced(probs, targets)
        return _score_rows(self.model, split, rows, scores, self.plw)

    def class_probabilities(self, split: Split) -> tuple[list[str], np.ndarray] | None:
        return self.head.labels, self.head.estimator.predict_proba(split.features)


class RetrievalLearner(FastLearner):
    """Memory growth, SGD on β and background counts, one batch at a time."""

    def __init__(
        self,
        request: TrainingRequest,
        data: Dataset,
        train_split: Split,
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

    def evaluate(self, split: Split, rows: np.ndarray) -> BatchScore:
        candidates = self._candidates(split.features[rows])
        scores = teacher_forced_scores(candidates, [split.targets[i] for i in rows], self.eot)
        return _score_rows(self.model, split, rows, scores, self.plw)

    def class_probabilities(self, split: Split) -> tuple[list[str], np.ndarray] | None:
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
    model: CompletionModel, split: Split, rows: np.ndarray, scores: TokenScores, plw: float
) -> BatchScore:
    """Add the model's prompt-token loss on these rows to their completion token scores."""
    prompt_tokens = split.prompt_batch(rows)
    prompt_nll = -float(model.prompt_lm.logprob(prompt_tokens).sum())
    return score_batch(scores, prompt_nll, len(prompt_tokens), plw)
