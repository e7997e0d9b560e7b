"""Honest points of comparison for a classification run, whatever the provider.

- A baseline that is an untrained placeholder is named as one (`placeholder_baseline`): the
  embedded backend's base models answer generic words and know nothing of any task, so gains
  "against" them mean nothing.
- Reference rows any provider allows, computed from the run's own split files: the majority
  class of the training split, and TF-IDF word 1–2-grams + logistic regression fitted on the
  training split (scikit-learn). Both answer the same evaluation examples as the fine-tuned
  model and are scored by the same metrics code.

The TF-IDF reference depends on the split files alone, so its answers are kept in a cache
folder keyed by their content (`cached_reference_predictions`): a re-run with a new seed on
the same data does not fit it again (~2 s on 2 cores for the quickstart).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson

from ftkit.config import ExperimentConfig
from ftkit.evaluate.predictions import Prediction
from ftkit.evaluate.runner import Example
from ftkit.runs.atomic import write_bytes_atomic

MAJORITY = "majority class of the training split"
TFIDF = "TF-IDF + logistic regression on the same training split"


def placeholder_baseline(config: ExperimentConfig, baseline_model: str | None) -> str | None:
    """Why the baseline is an untrained placeholder (in words), or None when it is a model.

    The embedded backend (provider kind `local`) serves the OpenAI base model names as
    placeholders; a real model it serves (the `lm` extra's) is a real baseline.
    """
    from ftkit.backend.naming import BASE_MODELS  # the names its placeholders answer to

    local = config.provider.kind == "local"
    if not local or baseline_model != config.job.model or baseline_model not in BASE_MODELS:
        return None
    return (
        f"the baseline {baseline_model} is the embedded backend's untrained placeholder (it "
        "answers generic words and knows nothing of the task), so no gains are shown against "
        "it; compare with the reference rows instead"
    )


def reference_predictions(
    train: Sequence[Example], test: Sequence[Example], classes: Sequence[str]
) -> dict[str, list[Prediction]]:
    """Each reference's answers to the test examples, by reference name (see the module doc)."""
    labelled = [e for e in train if e.expected in classes]
    if not labelled:
        return {}
    counts = Counter(e.expected for e in labelled)
    majority = counts.most_common(1)[0][0]
    prior = {c: counts[c] / len(labelled) for c in classes}  # its probabilities: the class shares
    references = {MAJORITY: [_row(e, majority, prior) for e in test]}
    if len({e.expected for e in labelled}) >= 2:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        model = LogisticRegression(max_iter=1000)
        model.fit(
            vectorizer.fit_transform([e.prompt for e in labelled]), [e.expected for e in labelled]
        )
        probabilities = model.predict_proba(vectorizer.transform([e.prompt for e in test]))
        rows = []
        for example, row in zip(test, probabilities, strict=True):
            by_class = dict.fromkeys(classes, 0.0) | {
                str(c): float(p) for c, p in zip(model.classes_, row, strict=True)
            }
            rows.append(_row(example, str(model.classes_[row.argmax()]), by_class))
        references[TFIDF] = rows
    return references


def cached_reference_predictions(
    train: Sequence[Example], test: Sequence[Example], classes: Sequence[str], cache_dir: Path
) -> dict[str, list[Prediction]]:
    """`reference_predictions`, kept in `cache_dir` under a hash of everything they depend on
    (both splits, the classes, the scikit-learn version); an unreadable entry is recomputed."""
    import sklearn

    inputs = [
        sklearn.__version__,
        list(classes),
        [(e.prompt, e.expected) for e in train],
        [(e.index, e.line, e.prompt, e.expected) for e in test],
    ]
    path = cache_dir / f"{hashlib.sha256(orjson.dumps(inputs)).hexdigest()[:32]}.json"
    try:
        stored = orjson.loads(path.read_bytes())
        return {name: [Prediction(**row) for row in rows] for name, rows in stored.items()}
    except (OSError, ValueError, TypeError):
        pass
    answers = reference_predictions(train, test, classes)
    rows = {
        name: [row.model_dump() for row in predictions] for name, predictions in answers.items()
    }
    with contextlib.suppress(OSError):  # a read-only runs folder only loses the cache
        write_bytes_atomic(path, orjson.dumps(rows))
    return answers


def _row(example: Example, predicted: str, probabilities: dict[str, float]) -> Prediction:
    return Prediction(
        index=example.index,
        line=example.line,
        prompt=example.prompt,
        expected=example.expected,
        predicted=predicted,
        text=predicted,
        probabilities=probabilities,
        class_mass=1.0,
    )
