"""What a completion means for a classification task: its label and the class probabilities.

Labels. A completion is matched to a class by its text: exactly (after cutting the data's stop
sequence), else ignoring surrounding whitespace, else — only when the data has no stop sequence —
by the longest class it starts with. Anything else is `OTHER`, counted and shown in the report,
never dropped.

Probabilities come from the completion's logprobs, one rule for every class:

* Each class is the token path of its whole answer, the label followed by the data's stop
  sequence, as the model's encoding splits it (`" very good"` + `"\n"` → `[" very", " good",
  "\n"]`; `" spam."` + `"\n"` → `[" spam", ".\n"]`: the stop may merge with the label's last
  characters, so the label's own tokens are not what the model emits).
* Walk the path along the greedy completion. When the completion stops before the path ends
  and its answer (text before the stop) is the class, the class is the completion: the server
  left out the stop's token, not the class. Where the class leaves the greedy path (at token
  `i`), its log probability is the greedy prefix's log probability plus the class token's
  logprob in the top-k alternatives at `i`; its later tokens are taken as certain (an upper
  bound; the model's own greedy continuation is the best evidence available without more
  requests). A class that follows the greedy path to its end gets the path's exact probability.
* Classes that leave the greedy path with the same token at the same position cannot be told
  apart from one request: they share that token's probability equally. (A second request with
  the token appended to the prompt would only help models that continue a partial answer; the
  embedded backend's models read the prompt as features and do not, so it is not made.)
* A class whose token at `i` is not in the top-k gets a floor: the probability mass the top-k
  leaves over at `i`, divided among the missing tokens there, but never more than the smallest
  listed top-k probability (a token outside the top-k cannot be likelier than one inside it),
  and never less than `MIN_PROBABILITY` (so log loss stays finite).
* The class scores are renormalised to sum to 1. `class_mass` keeps their sum before
  renormalising: how much of the model's probability fell on the classes at all.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import tiktoken

OTHER = "<other>"
MIN_PROBABILITY = 1e-9


class TokenLogprobs(Protocol):
    """The logprobs of one completion: `ftkit.api.models.Logprobs` or `ChatLogprobs`."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]


@dataclass(frozen=True)
class ClassProbabilities:
    """Renormalised class probabilities of one completion and how they were obtained."""

    probabilities: dict[str, float]
    class_mass: float
    floored: list[str] = field(default_factory=list)


def strip_stop(text: str, stop: str | None) -> str:
    """`text` without a trailing stop sequence, and cut at the first stop if one occurs inside."""
    if stop:
        head, found, _ = text.partition(stop)
        if found:
            return head
    return text


def match_label(text: str, classes: Sequence[str], stop: str | None = None) -> str:
    """The class a completion names, or `OTHER`. `classes` are given without the stop sequence.

    With no stop sequence in the data, nothing ends the answer after the label, so a completion
    that starts with a class as a whole word (the longest such class) names it.
    """
    text = strip_stop(text, stop)
    if text in classes:
        return text
    stripped = text.strip()
    matches = [label for label in classes if label.strip() == stripped]
    if len(matches) == 1:
        return matches[0]
    if stop is None:
        starts = [label for label in classes if _starts_with_word(stripped, label.strip())]
        if starts:
            return max(starts, key=len)
    return OTHER


def _starts_with_word(text: str, word: str) -> bool:
    return bool(word) and text.startswith(word) and not text[len(word) : len(word) + 1].isalnum()


def class_token_paths(
    classes: Sequence[str], encoding: tiktoken.Encoding, stop: str | None = None
) -> dict[str, list[str]]:
    """Each class followed by `stop`, as the token strings the model emits for it."""
    return {
        label: [
            encoding.decode([token]) for token in encoding.encode_ordinary(label + (stop or ""))
        ]
        for label in classes
    }


def class_probabilities(
    paths: Mapping[str, Sequence[str]], logprobs: TokenLogprobs, stop: str | None = None
) -> ClassProbabilities:
    """Map a completion's logprobs to renormalised class probabilities (rule in the module doc).

    `paths` come from `class_token_paths` with the same `stop`.
    """
    greedy = logprobs.tokens
    tops = logprobs.top_logprobs
    answer = strip_stop("".join(greedy), stop)
    # Per class: where it leaves the greedy path, its token there (None: it does not leave it
    # before the completion ends) and the log probability of the greedy prefix before that.
    exits: dict[str, tuple[int, str | None, float]] = {}
    for label, path in paths.items():
        prefix = 0.0
        i = 0
        for i, step in enumerate(path):
            if i >= len(greedy) or step != greedy[i]:
                break
            prefix += logprobs.token_logprobs[i] or 0.0
        else:
            i = len(path)
        if i == len(greedy) < len(path) and label == answer:
            i = len(path)  # the completion is this class; its stop token was left out
        token = path[i] if i < len(path) and i < len(greedy) else None
        exits[label] = (i, token, prefix)

    # Classes leaving the path together (same position, same token, or both cut off by the end
    # of the completion) share one probability; a class followed to its end shares with nobody.
    shared = Counter((i, token) for label, (i, token, _) in exits.items() if i < len(paths[label]))
    missing: dict[int, set[str]] = defaultdict(set)
    for i, token, _ in exits.values():
        if token is not None and token not in _top(tops, i):
            missing[i].add(token)

    scores: dict[str, float] = {}
    floored: list[str] = []
    for label, (i, token, prefix) in exits.items():
        probability = math.exp(prefix)
        if token is not None:
            top = _top(tops, i)
            if token in top:
                probability *= math.exp(top[token])
            else:
                probability *= _floor(top, len(missing[i]))
                floored.append(label)
        if i < len(paths[label]):
            probability /= shared[(i, token)]
        scores[label] = probability

    mass = sum(scores.values())
    if mass <= 0:
        uniform = 1.0 / len(scores)
        return ClassProbabilities({label: uniform for label in scores}, 0.0, floored)
    return ClassProbabilities(
        {label: score / mass for label, score in scores.items()}, min(mass, 1.0), floored
    )


def _top(tops: Sequence[Mapping[str, float] | None], i: int) -> Mapping[str, float]:
    return (tops[i] or {}) if i < len(tops) else {}


def _floor(top: Mapping[str, float], n_missing: int) -> float:
    listed = [math.exp(value) for value in top.values()]
    leftover = max(0.0, 1.0 - sum(listed)) / max(n_missing, 1)
    if listed:
        leftover = min(leftover, min(listed))
    return max(leftover, MIN_PROBABILITY)
