"""Seeded, learnable datasets and recording hooks shared by the trainer tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

from ftkit.backend.training import StepMetrics

TOPICS = {
    " billing\n": ["invoice", "charged", "refund", "payment", "price", "receipt", "card"],
    " shipping\n": ["parcel", "delivery", "courier", "tracking", "shipped", "address", "box"],
    " account\n": ["password", "login", "username", "profile", "email", "locked", "account"],
}
FILLER = [
    "please",
    "help",
    "me",
    "today",
    "with",
    "this",
    "issue",
    "the",
    "my",
    "a",
    "is",
    "not",
    "working",
    "again",
    "thanks",
    "hello",
]


def tickets(n: int, seed: int, labels: list[str] | None = None) -> list[dict[str, str]]:
    """Support tickets whose topic words give the label away (10% label noise)."""
    rng = random.Random(seed)
    names = labels or list(TOPICS)
    rows = []
    for _ in range(n):
        label = rng.choice(names)
        words = rng.sample(TOPICS[label], 2) + rng.sample(FILLER, 5)
        rng.shuffle(words)
        shown = label if rng.random() > 0.1 else rng.choice(names)
        rows.append({"prompt": "Ticket: " + " ".join(words) + "\n\n###\n\n", "completion": shown})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON lines; returns the path."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class RecordingHooks:
    """Hooks that keep every step and checkpoint, and can ask to stop at a step."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.steps: list[StepMetrics] = []
        self.totals: list[int] = []
        self.checkpoints: list[tuple[int, Path, StepMetrics]] = []
        self.stop_after = stop_after

    def on_step(self, metrics: StepMetrics, total_steps: int) -> None:
        self.steps.append(metrics)
        self.totals.append(total_steps)

    def on_epoch_end(self, epoch: int, checkpoint_path: Path, metrics: StepMetrics) -> None:
        self.checkpoints.append((epoch, checkpoint_path, metrics))

    def on_resume(self, step: int, total_steps: int) -> None:
        pass

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.steps) >= self.stop_after
