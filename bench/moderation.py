"""Accuracy of /v1/moderations' model on a hand-labelled held-out set, against a keyword peer.

bench/data/moderation-heldout.jsonl: 100 English sentences written for this benchmark (50
offensive: insults and profanity aimed at someone; 50 not, many with strong but harmless words:
"kill the process", "I hate waiting", "brutally difficult"). None comes from the model's
training data. Prints accuracy, precision, recall and F1 at the served threshold (0.5) for
- the served model (alt-profanity-check's linear model, `ftkit.backend.moderation`), and
- the peer: a keyword list (flag when any of 20 common insults/swear words appears).

Run: .venv/bin/python bench/moderation.py
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from ftkit.backend.moderation import THRESHOLD, offensive_probability

DATA = Path(__file__).parent / "data" / "moderation-heldout.jsonl"
KEYWORDS = re.compile(
    r"\b(idiot|moron|stupid|fuck\w*|shit|bitch|bastard|asshole|ass|damn|hell|crap|loser|"
    r"dumb\w*|jerk|scum\w*|freak|twat|prick|retard)\b",
    re.IGNORECASE,
)


def scores(predicted: list[bool], truth: list[bool]) -> str:
    """accuracy / precision / recall / F1 as one line."""
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"accuracy {accuracy:.3f}  precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}"


def main() -> None:
    """Score both on the held-out set."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    texts, truth = [r["text"] for r in rows], [bool(r["offensive"]) for r in rows]
    started = time.perf_counter()
    model = [bool(p >= THRESHOLD) for p in offensive_probability(texts)]
    elapsed = time.perf_counter() - started
    peer = [bool(KEYWORDS.search(t)) for t in texts]
    print(f"held-out set: {len(rows)} sentences ({sum(truth)} offensive)")
    print(f"model (alt-profanity-check, threshold {THRESHOLD}): {scores(model, truth)}")
    print(f"peer (keyword list):                       {scores(peer, truth)}")
    print(f"model time incl. first load: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
