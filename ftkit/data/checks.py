"""The checks: one streaming pass keeps running aggregates, then findings are built from them.

The legacy `prepare_data` checks run in its order (openai-api.md §9), with its defects fixed,
plus the checks it lacked. Per-example memory is three fixed-size arrays (line number, 8-byte
prompt and pair hashes, label id); everything else is a running aggregate.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from dataclasses import dataclass, field
from hashlib import blake2b

import numpy as np

from ftkit.data.models import DataShape, Finding, Severity, TaskType
from ftkit.data.parsing import Example, Problem, detect_shape, parse_payload, to_example
from ftkit.data.reading import Chunk

# The legacy tool's candidates, in its order (openai-api.md §9, validators 11 and 14).
SEPARATORS = (" ->", "\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n===>\n\n", "\n\n--->\n\n")
SEPARATOR_FALLBACK = "\n\n### =>\n\n"
ENDINGS = ("\n", ".", " END", "***", "+++", "&&&", "$$$", "@@@", "%%%")
ENDING_FALLBACK = " [END]"
MAX_LABELS = 10_000  # distinct completions tracked for class statistics
_UPPER = bytes(range(65, 91))
_LOWER = bytes(range(97, 123))

# Severity and advice per line-level problem code; `{details}` lists what was seen.
LINE_PROBLEMS: dict[str, tuple[Severity, str]] = {
    "invalid_utf8": (
        "error",
        "Lines are not valid UTF-8 ({details}). Re-save the file as UTF-8, or pass "
        "--fix drop-invalid to leave these lines out.",
    ),
    "blank_line": ("info", "Blank lines are skipped."),
    "invalid_json": (
        "error",
        "Lines are not valid JSON ({details}). Correct them, or pass --fix drop-invalid.",
    ),
    "truncated_last_line": (
        "error",
        "The last line is not valid JSON and has no line ending: the file looks truncated. "
        "Re-export it, or pass --fix drop-invalid.",
    ),
    "not_object": (
        "error",
        "Lines hold a JSON {details} instead of an object; each line must be one "
        '{{"prompt": ..., "completion": ...}} object. Correct them, or pass --fix drop-invalid.',
    ),
    "mixed_format": (
        "error",
        "Lines use a different format ({details}) from the rest of the file; use either "
        "prompt/completion or chat `messages` throughout, or pass --fix drop-invalid.",
    ),
    "missing_key": (
        "error",
        "Lines lack a required key ({details}); add it, or pass --fix drop-invalid. "
        "(A missing value is never read as text.)",
    ),
    "key_case": (
        "warning",
        "Keys spelled {details} are read as the lowercase `prompt`/`completion`; rename them.",
    ),
    "unknown_keys": (
        "warning",
        "Extra keys ({details}) are not part of the format; they are ignored and not written.",
    ),
    "non_string": (
        "error",
        "Values must be strings, found {details}; quote numbers, replace nulls, or pass "
        "--fix drop-invalid.",
    ),
    "empty_completion": (
        "error",
        "Completions are empty; there is nothing to learn from these examples. Fill them in, "
        "or pass --fix drop-invalid.",
    ),
    "empty_prompt": (
        "warning",
        "Prompts are empty while others are not; the model gets no input for these examples.",
    ),
    "chat_messages": (
        "error",
        "`messages` must be a non-empty list of message objects ({details}); correct these "
        "lines, or pass --fix drop-invalid.",
    ),
    "chat_role": (
        "error",
        "Messages have an unknown role ({details}); use system, user, assistant, tool or "
        "function, or pass --fix drop-invalid.",
    ),
    "chat_content": (
        "error",
        "Message content must be a string ({details}); correct it, or pass --fix drop-invalid.",
    ),
    "chat_no_assistant": (
        "error",
        "Examples have no assistant message, so there is nothing to train on; add one, or "
        "pass --fix drop-invalid.",
    ),
    "chat_unknown_keys": (
        "warning",
        "Messages carry keys the API does not accept ({details}); remove them.",
    ),
    "chat_weight": (
        "error",
        "`weight` must be 0 or 1 and only on assistant messages ({details}); correct it, or "
        "pass --fix drop-invalid.",
    ),
}

# Findings are listed in the legacy tool's validator order, the added checks beside their kin.
CODE_ORDER = (
    "bom",
    "invalid_utf8",
    "blank_line",
    "invalid_json",
    "truncated_last_line",
    "not_object",
    "mixed_format",
    "examples",
    "too_few_examples",
    "few_examples",
    "missing_key",
    "key_case",
    "unknown_keys",
    "non_string",
    "empty_completion",
    "empty_prompt",
    "chat_messages",
    "chat_role",
    "chat_content",
    "chat_no_assistant",
    "chat_unknown_keys",
    "chat_weight",
    "task_type",
    "class_balance",
    "duplicates",
    "too_long",
    "maybe_too_long",
    "uppercase_prompt",
    "uppercase_completion",
    "identical_prompts",
    "prompt_separator",
    "no_prompt_separator",
    "separator_inside_prompt",
    "prompt_prefix",
    "completion_prefix",
    "identical_completions",
    "completion_stop",
    "no_completion_ending",
    "no_leading_space",
    "class_missing_in_split",
    "tokens_not_counted",
    "cost",
)


class Tally:
    """Counts findings per code, keeping a capped list of lines and of distinct details."""

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max_lines
        self.counts: Counter[str] = Counter()
        self.lines: dict[str, list[int]] = {}
        self.details: dict[str, Counter[str]] = {}

    def add(self, code: str, line: int, detail: str = "") -> None:
        """Record one occurrence."""
        self.counts[code] += 1
        lines = self.lines.setdefault(code, [])
        if len(lines) < self.max_lines:
            lines.append(line)
        if detail:
            details = self.details.setdefault(code, Counter())
            if detail in details or len(details) < 20:
                details[detail] += 1

    def add_problems(self, problems: list[Problem]) -> None:
        """Record a list of (code, line, detail)."""
        for code, line, detail in problems:
            self.add(code, line, detail)

    def merge(self, other: Tally) -> None:
        """Fold another tally (of later lines) into this one."""
        for code, count in other.counts.items():
            self.counts[code] += count
            lines = self.lines.setdefault(code, [])
            lines.extend(other.lines[code][: self.max_lines - len(lines)])
            for detail, n in other.details.get(code, Counter()).items():
                details = self.details.setdefault(code, Counter())
                if detail in details or len(details) < 20:
                    details[detail] += n

    def finding(self, code: str, severity: Severity, message: str) -> Finding:
        """A Finding for `code` with its count and capped lines."""
        return Finding(
            code=code,
            severity=severity,
            message=message,
            lines=self.lines.get(code, []),
            count=self.counts[code],
        )

    def detail_text(self, code: str) -> str:
        """The most frequent details of a code, for messages."""
        details = self.details.get(code)
        if not details:
            return ""
        top = [f"{text} ×{n}" if n > 1 else text for text, n in details.most_common(5)]
        return "; ".join(top)


# Character-wise common prefix is exactly what is wanted here (these are texts, not paths).
def _common_prefix(a: str, b: str) -> str:
    return os.path.commonprefix([a, b])  # noqa: RUF071


def _common_suffix(a: str, b: str) -> str:
    return os.path.commonprefix([a[::-1], b[::-1]])[::-1]  # noqa: RUF071


@dataclass
class Scan:
    """Running aggregates of the first pass over the data."""

    max_lines: int
    tally: Tally = field(init=False)
    shape: DataShape | None = None
    examples: int = 0
    rejected: int = 0  # non-blank lines that are not usable examples
    # per example
    lines: array = field(default_factory=lambda: array("Q"))
    prompt_keys: bytearray = field(default_factory=bytearray)
    pair_keys: bytearray = field(default_factory=bytearray)
    label_ids: array = field(default_factory=lambda: array("i"))
    # labels (completions) while there are few distinct ones
    labels: dict[str, int] | None = field(default_factory=dict)
    # prompts
    prompt_chars: int = 0
    empty_prompts: int = 0
    first_prompt: str | None = None
    prompts_differ: bool = False
    prompt_prefix: str | None = None
    prompt_suffix: str | None = None
    prompt_newline: bool = False
    separators_unused: list[str] = field(default_factory=lambda: list(SEPARATORS))
    # completions
    first_completion: str | None = None
    completions_differ: bool = False
    completion_prefix: str | None = None
    completion_suffix: str | None = None
    endings_unused: list[str] = field(default_factory=lambda: list(ENDINGS))
    # letter case (ASCII letters), per column
    upper: list[int] = field(default_factory=lambda: [0, 0])
    lower: list[int] = field(default_factory=lambda: [0, 0])

    def __post_init__(self) -> None:
        self.tally = Tally(self.max_lines)

    def add_chunk(self, chunk: Chunk, last_line: int, unterminated: bool) -> None:
        """Parse and check a chunk of items, updating the aggregates."""
        tally = self.tally
        for line, payload in chunk:
            obj, problems = parse_payload(line, payload, self.shape)
            if problems:
                if unterminated and line == last_line and problems[0][0] == "invalid_json":
                    problems = [("truncated_last_line", line, "")]
                tally.add_problems(problems)
                self.rejected += problems[0][0] != "blank_line"
                continue
            if self.shape is None:
                self.shape = detect_shape(obj)
            example, problems = to_example(line, obj, self.shape or "prompt_completion")
            if problems:
                tally.add_problems(problems)
            if example is None:
                self.rejected += 1
            else:
                self._add_example(example)

    def _add_example(self, example: Example) -> None:
        line, prompt, completion, _ = example
        self.examples += 1
        pb = prompt.encode()
        cb = completion.encode()
        prompt_key = blake2b(pb, digest_size=8).digest()
        self.lines.append(line)
        self.prompt_keys += prompt_key
        self.pair_keys += blake2b(cb, digest_size=8, key=prompt_key).digest()
        labels = self.labels
        if labels is not None:
            label = labels.get(completion)
            if label is None:
                if len(labels) >= MAX_LABELS:
                    self.labels = None
                    label = -1
                else:
                    label = labels[completion] = len(labels)
            self.label_ids.append(label)
        else:
            self.label_ids.append(-1)
        self.upper[0] += len(pb) - len(pb.translate(None, _UPPER))
        self.lower[0] += len(pb) - len(pb.translate(None, _LOWER))
        self.upper[1] += len(cb) - len(cb.translate(None, _UPPER))
        self.lower[1] += len(cb) - len(cb.translate(None, _LOWER))
        if self.shape == "prompt_completion":
            self._add_prompt(prompt)
            self._add_completion(line, completion)
        elif prompt != "[]":
            self.prompt_chars += len(prompt)

    def _add_prompt(self, prompt: str) -> None:
        if not prompt:
            self.empty_prompts += 1
            return
        self.prompt_chars += len(prompt)
        if self.first_prompt is None:
            self.first_prompt = self.prompt_prefix = self.prompt_suffix = prompt
        else:
            if not self.prompts_differ and prompt != self.first_prompt:
                self.prompts_differ = True
            if not prompt.startswith(self.prompt_prefix):
                self.prompt_prefix = _common_prefix(self.prompt_prefix, prompt)
            if not prompt.endswith(self.prompt_suffix):
                self.prompt_suffix = _common_suffix(self.prompt_suffix, prompt)
        if not self.prompt_newline and "\n" in prompt:
            self.prompt_newline = True
        if self.separators_unused:
            self.separators_unused = [s for s in self.separators_unused if s not in prompt]

    def _add_completion(self, line: int, completion: str) -> None:
        if self.first_completion is None:
            self.first_completion = self.completion_prefix = self.completion_suffix = completion
        else:
            if not self.completions_differ and completion != self.first_completion:
                self.completions_differ = True
            if not completion.startswith(self.completion_prefix):
                self.completion_prefix = _common_prefix(self.completion_prefix, completion)
            if not completion.endswith(self.completion_suffix):
                self.completion_suffix = _common_suffix(self.completion_suffix, completion)
        if self.endings_unused:
            self.endings_unused = [e for e in self.endings_unused if e not in completion]
        if completion[:1] not in (" ", "\n", "\t"):
            self.tally.add("no_leading_space", line)

    # -- whole-dataset facts -------------------------------------------------------------

    def task_type(self) -> TaskType:
        """The legacy rule: no prompt text → open-ended; distinct completions < n/3 →
        classification; otherwise conditional generation."""
        if self.prompt_chars == 0:
            return "open_ended_generation"
        if self.labels is not None and len(self.labels) < self.examples / 3:
            return "classification"
        return "conditional_generation"

    def label_counts(self) -> dict[str, int]:
        """Examples per completion (only meaningful while labels were tracked)."""
        if self.labels is None:
            return {}
        counts = np.bincount(
            np.frombuffer(self.label_ids, dtype=np.int32), minlength=len(self.labels)
        )
        return {label: int(counts[i]) for label, i in self.labels.items()}

    def line_numbers(self) -> np.ndarray:
        """Line number of each example, in file order."""
        return np.frombuffer(self.lines, dtype=np.uint64)

    def duplicate_mask(self) -> np.ndarray:
        """True for every example whose (prompt, completion) pair appeared on an earlier line."""
        keys = np.frombuffer(bytes(self.pair_keys), dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        repeat = np.zeros(len(keys), dtype=bool)
        if len(keys) > 1:
            repeat[order[1:]] = ordered[1:] == ordered[:-1]
        return repeat

    def prompt_key_array(self) -> np.ndarray:
        """The 8-byte prompt hash of each example as uint64."""
        return np.frombuffer(bytes(self.prompt_keys), dtype=np.uint64)

    def label_array(self) -> np.ndarray:
        """Label id of each example (-1 when not tracked)."""
        return np.frombuffer(self.label_ids, dtype=np.int32)
