"""Honest points of comparison for a classification run, whatever the provider.

- A baseline that is an untrained placeholder is named as one (`placeholder_baseline`): the
  embedded backend's base models answer generic words and know nothing of any task, so gains
  "against" them mean nothing.
- Reference rows any provider allows, computed from the run's own split files: the majority
  class of the training split, and TF-IDF word 1–2-grams + logistic regression fitted on the
  training split (scikit-learn). Both answer the same evaluation examples as the fine-tuned
  model and are scored by the same metrics code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ftkit.config import ExperimentConfig
from ftkit.evaluate.predictions import Prediction
from ftkit.evaluate.runner import Example

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
