"""The moderation model behind `/v1/moderations`: alt-profanity-check's offensive-language model.

`alt-profanity-check` ships a linear SVM over TF-IDF word n-grams, calibrated to a probability,
trained on labelled offensive/toxic comments. It judges one thing: whether text is offensive
(insults, slurs, profanity aimed at people). That probability is reported as `harassment` and
flags it at 0.5. Every other category of OpenAI's list (hate as distinct from insult, threats,
self-harm, sexual content, minors, violence, graphic violence, illicit) it cannot judge: those
report false and 0.0 and are listed in each result's `categories_not_judged`, so a caller can
tell "not judged" from "judged harmless". Accuracy on a hand-labelled held-out set:
`bench/moderation.py` (the README states the figure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_NAME = "ftkit-offensive-language"
ALIASES = ("text-moderation-latest", "text-moderation-stable", "omni-moderation-latest")
JUDGED = "harassment"
THRESHOLD = 0.5
CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
    "illicit",
    "illicit/violent",
)
NOT_JUDGED = [c for c in CATEGORIES if c != JUDGED]


def offensive_probability(texts: Sequence[str]) -> np.ndarray:
    """P(offensive) per text."""
    from profanity_check import predict_prob

    return np.asarray(predict_prob(list(texts)), dtype=float)


def moderate(texts: Sequence[str]) -> list[dict[str, Any]]:
    """One OpenAI moderation result per text."""
    results = []
    for score in offensive_probability(texts):
        flagged = bool(score >= THRESHOLD)
        results.append(
            {
                "flagged": flagged,
                "categories": {c: (flagged if c == JUDGED else False) for c in CATEGORIES},
                "category_scores": {c: (float(score) if c == JUDGED else 0.0) for c in CATEGORIES},
                "category_applied_input_types": {
                    c: (["text"] if c == JUDGED else []) for c in CATEGORIES
                },
                "categories_not_judged": NOT_JUDGED,
            }
        )
    return results
