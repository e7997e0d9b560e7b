"""The checks: one streaming pass keeps running aggregates, then findings are built from them.

The legacy `prepare_data` checks run in its order (openai-api.md §9), with its defects fixed,
plus the checks it lacked. Per-example memory is a few fixed-size arrays (line number, 8-byte
prompt and completion hashes, label id, tokens, flags: 29 bytes); everything else is a running
aggregate. The hashes are truncated SHA-1 (fast with CPU support; not used for security).
"""

from __future__ import annotations

import functools
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from hashlib import sha1
from typing import Any

import numpy as np
import orjson

from ftkit.data.counting import chat_tokens
from ftkit.data.models import DataShape, Finding, Severity, TaskType
from ftkit.data.parsing import Example, Problem, detect_shape, parse_payload, to_example
from ftkit.data.reading import Chunk
from ftkit.data.tokens import get_encoding

# The legacy tool's candidates, in its order (openai-api.md §9, validators 11 and 14).
ARROW = " ->"
SEPARATORS = (ARROW, "\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n===>\n\n", "\n\n--->\n\n")
SEPARATOR_FALLBACK = "\n\n### =>\n\n"
ALL_SEPARATORS = (*SEPARATORS, SEPARATOR_FALLBACK)
assert all(s.startswith("\n\n") for s in ALL_SEPARATORS if s != ARROW)  # see Scan._add_prompt
ENDINGS = ("\n", ".", " END", "***", "+++", "&&&", "$$$", "@@@", "%%%")
ENDING_FALLBACK = " [END]"
VERBATIM, LONG = 0x10, 0x20  # per-example flags; VERBATIM doubles as a line-code flag
MAX_LABELS = 10_000  # distinct completions tracked for class statistics
_CASE = bytes(85 if 65 <= b <= 90 else 108 if 97 <= b <= 122 else b for b in range(256))
_NOT_LETTERS = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))


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

    def add_lines(self, code: str, lines: list[int]) -> None:
        """Record one occurrence (no detail) on each of `lines`, in order."""
        self.counts[code] += len(lines)
        listed = self.lines.setdefault(code, [])
        listed.extend(lines[: max(0, self.max_lines - len(listed))])

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


def _letter_case(text: bytes) -> tuple[int, int]:
    """(uppercase, lowercase) ASCII letters in UTF-8 text."""
    letters = text.translate(_CASE, _NOT_LETTERS)  # b"U" or b"l" per ASCII letter
    upper = letters.count(b"U")
    return upper, len(letters) - upper


def _letter_case_bulk(text: bytes) -> tuple[int, int]:
    """_letter_case for long texts (vectorised: uint8 arithmetic wraps below 'A' and 'a')."""
    codes = np.frombuffer(text, dtype=np.uint8)
    upper = np.count_nonzero((codes - np.uint8(65)) < 26)
    return int(upper), int(np.count_nonzero((codes - np.uint8(97)) < 26))


# Character-wise common prefix is exactly what is wanted here (these are texts, not paths).
def _common_prefix(a: str, b: str) -> str:
    return os.path.commonprefix([a, b])  # noqa: RUF071


def _common_suffix(a: str, b: str) -> str:
    return os.path.commonprefix([a[::-1], b[::-1]])[::-1]  # noqa: RUF071


@dataclass(frozen=True)
class ScanOptions:
    """What the first pass needs besides the data; small, sent to worker processes."""

    shape: DataShape
    max_lines: int
    encoding: str | None  # None: no token counting
    context_limit: int


@dataclass
class Scan:
    """Running aggregates of the first pass; chunks are scanned separately and merged in order."""

    options: ScanOptions
    tally: Tally = field(init=False)
    examples: int = 0
    rejected: int = 0  # non-blank lines that are not usable examples
    # per example: line, 8-byte prompt and completion hashes, label id, tokens, and
    # flags (VERBATIM: the raw line can be copied as it is; LONG: over the token limit)
    lines: array = field(default_factory=lambda: array("I"))
    prompt_keys: bytearray = field(default_factory=bytearray)
    completion_keys: bytearray = field(default_factory=bytearray)
    label_ids: array = field(default_factory=lambda: array("i"))
    tokens: array = field(default_factory=lambda: array("I"))
    flags: bytearray = field(default_factory=bytearray)
    max_completion_tokens: int = 0
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
        self.tally = Tally(self.options.max_lines)
        self._completion_cache: dict[str, tuple[bytes, int, int]] = {}
        self._completion_tokens: dict[str, int] = {}
        self._inside_checks: tuple[str | None, list[tuple[int, str]]] = (None, [])

    @property
    def prompt_texts(self) -> _Texts:
        """(first prompt, prompts differ, common prefix, common suffix) so far."""
        return self.first_prompt, self.prompts_differ, self.prompt_prefix, self.prompt_suffix

    @prompt_texts.setter
    def prompt_texts(self, texts: _Texts) -> None:
        self.first_prompt, self.prompts_differ, self.prompt_prefix, self.prompt_suffix = texts

    @property
    def completion_texts(self) -> _Texts:
        """(first completion, completions differ, common prefix, common suffix) so far."""
        return (
            self.first_completion,
            self.completions_differ,
            self.completion_prefix,
            self.completion_suffix,
        )

    @completion_texts.setter
    def completion_texts(self, texts: _Texts) -> None:
        (
            self.first_completion,
            self.completions_differ,
            self.completion_prefix,
            self.completion_suffix,
        ) = texts

    @property
    def shape(self) -> DataShape:
        """prompt_completion or chat."""
        return self.options.shape

    @property
    def max_lines(self) -> int:
        """How many line numbers a finding lists."""
        return self.options.max_lines

    def add_chunk(self, chunk: Chunk, last_line: int, unterminated: bool) -> None:
        """Parse and check a chunk of items, updating the aggregates."""
        chunk = chunk.attached()  # read once, whichever path checks it
        if not (self.options.shape == "prompt_completion" and self._add_clean_chunk(chunk)):
            self._add_lines(chunk, last_line, unterminated)

    def _add_clean_chunk(self, chunk: Chunk) -> bool:
        """The common chunk, a whole batch at a time: consecutive JSONL lines that are all
        clean examples (a string prompt and a non-empty string completion, nothing else) and
        raise no per-line finding beyond `no_leading_space`, `too_long` and `maybe_too_long`.
        Gives exactly the aggregates of `_add_lines`; returns False (changing nothing) for any
        other chunk, which then goes line by line."""
        block = chunk.block()
        if not block:
            return block is not None
        first_line = chunk.first_line
        # One parse for the chunk: with no empty line, each line is at least one array item,
        # and as many items as lines means each line is exactly one JSON value.
        try:
            objs = orjson.loads(b"[" + block.removesuffix(b"\n").replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            return False
        if (
            len(objs) != chunk.last_line - first_line + 1
            or set(map(type, objs)) != {dict}
            or set(map(len, objs)) != {2}
        ):
            return False
        prompts = [obj.get("prompt") for obj in objs]
        completions = [obj.get("completion") for obj in objs]
        if set(map(type, prompts)) != {str} or set(map(type, completions)) != {str}:
            return False
        if "" in prompts or "" in completions:
            return False
        # Separator candidates checked inside prompts (see _add_prompt): all must be clean.
        joined = "\x00".join(prompts) + "\x00"
        if joined.count("\x00") != len(prompts):  # NUL marks where a prompt ends below
            return False
        inside = self._inside_candidates(prompts)
        for separator, end in inside:
            text = joined if end == len(prompts) else "\x00".join(prompts[:end]) + "\x00"
            if _inner_pattern(separator).search(text):
                return False
        distinct = dict.fromkeys(completions)
        labels = self.labels
        if (
            labels is not None
            and len(labels) + len(distinct) > MAX_LABELS
            and len(set(distinct).union(labels)) > MAX_LABELS
        ):
            return False

        # Per example: line numbers, flags, tokens, hashes, labels.
        n = len(prompts)
        options = self.options
        lines = range(first_line, first_line + n)
        flags = bytearray([VERBATIM]) * n
        if options.encoding is not None:
            encoding = get_encoding(options.encoding)
            completion_tokens = {c: _token_count(encoding, c) for c in distinct}
            tokens = [_token_count(encoding, p) for p in prompts]
            tokens = [t + completion_tokens[c] for t, c in zip(tokens, completions, strict=True)]
            self.tokens.extend(tokens)
            self.max_completion_tokens = max(
                self.max_completion_tokens, *completion_tokens.values()
            )
            limit = options.context_limit
            if max(tokens) > limit:
                for index, count in enumerate(tokens):
                    if count > limit:
                        self.tally.add("too_long", first_line + index, str(count))
                        flags[index] |= LONG
        else:
            limit = 4 * options.context_limit
            sizes = [len(p) + len(c) for p, c in zip(prompts, completions, strict=True)]
            if max(sizes) > limit:
                for index, size in enumerate(sizes):
                    if size > limit:
                        self.tally.add("maybe_too_long", first_line + index)
                        flags[index] |= LONG
        self.flags += flags
        self.examples += n
        self.lines.extend(lines)
        encoded = [p.encode() for p in prompts]
        self.prompt_keys += b"".join([sha1(pb).digest()[:8] for pb in encoded])
        completion_keys = {c: sha1(c.encode()).digest()[:8] for c in distinct}
        self.completion_keys += b"".join([completion_keys[c] for c in completions])
        if labels is not None:
            for completion in distinct:
                if completion not in labels:
                    labels[completion] = len(labels)
            self.label_ids.extend([labels[c] for c in completions])
        else:
            self.label_ids.extend(array("i", [-1]) * n)
        upper, lower = _letter_case_bulk(b"".join(encoded))
        self.upper[0] += upper
        self.lower[0] += lower
        upper, lower = _letter_case_bulk("".join(completions).encode())
        self.upper[1] += upper
        self.lower[1] += lower

        # Prompts (all non-empty here).
        self.prompt_chars += len(joined) - n
        newline = "\n" in joined
        self.prompt_newline = self.prompt_newline or newline
        unused = self.separators_unused
        if ARROW in unused and (self.prompt_newline or ARROW in joined):
            unused.remove(ARROW)
        found = _found_separators(tuple(s for s in unused if s != ARROW), joined)
        if found:
            self.separators_unused = [s for s in unused if s not in found]
        self.prompt_texts = _merge_texts(self.prompt_texts, _texts(prompts))
        # Completions.
        distinct_list = list(distinct)
        self.completion_texts = _merge_texts(self.completion_texts, _texts(distinct_list))
        if self.endings_unused:
            all_completions = "\x00".join(distinct_list)
            self.endings_unused = [e for e in self.endings_unused if e not in all_completions]
        unspaced = {c for c in distinct_list if c[:1] not in (" ", "\n", "\t")}
        if unspaced:
            self.tally.add_lines(
                "no_leading_space",
                [first_line + i for i, c in enumerate(completions) if c in unspaced],
            )
        return True

    def _inside_candidates(self, prompts: list[str]) -> list[tuple[str, int]]:
        """(separator, k): the separators `_add_prompt` looks for inside the first k prompts
        of a clean chunk (those while the running common suffix ends with the separator)."""
        suffix = self.prompt_suffix if self.first_prompt is not None else None
        candidates = []
        for separator in ALL_SEPARATORS:
            if suffix is not None and not suffix.endswith(separator):
                continue
            end = 0
            for prompt in prompts:
                if not prompt.endswith(separator):
                    break
                end += 1
            if end:
                candidates.append((separator, end))
        return candidates

    def _add_lines(self, chunk: Chunk, last_line: int, unterminated: bool) -> None:
        """Parse and check a chunk line by line (any chunk)."""
        tally = self.tally
        shape = self.options.shape
        encoding = get_encoding(self.options.encoding) if self.options.encoding else None
        fast = shape == "prompt_completion"
        for line, payload in chunk.items():
            if fast and type(payload) is bytes:
                # Fast path for the common clean line: exactly a string prompt and a non-empty
                # string completion. Anything else takes the general path below.
                try:
                    obj = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    obj = None
                if type(obj) is dict and len(obj) == 2:
                    prompt = obj.get("prompt")
                    completion = obj.get("completion")
                    if type(prompt) is str and type(completion) is str and prompt and completion:
                        example = Example(line, prompt, completion, obj)
                        self._add_usable(example, encoding)
                        continue
            obj, problems = parse_payload(line, payload, shape)
            if problems:
                if unterminated and line == last_line and problems[0][0] == "invalid_json":
                    problems = [("truncated_last_line", line, "")]
                tally.add_problems(problems)
                self.rejected += problems[0][0] != "blank_line"
                continue
            parsed, problems = to_example(line, obj, shape)
            if problems:
                tally.add_problems(problems)
            if parsed is None:
                self.rejected += 1
                continue
            flags = VERBATIM if not problems and isinstance(payload, bytes) else 0
            self._add_usable(parsed, encoding, flags)

    def _add_usable(self, example: Example, encoding: Any, flags: int = VERBATIM) -> None:
        if encoding is not None:
            flags |= self._count(example, encoding)
        elif len(example.prompt) + len(example.completion) > 4 * self.options.context_limit:
            self.tally.add("maybe_too_long", example.line)
            flags |= LONG
        self.flags.append(flags)
        self._add_example(example)

    def _count(self, example: Example, encoding: Any) -> int:
        if self.options.shape == "chat":
            tokens, completion = chat_tokens(example.record, encoding)
        else:
            # Completions repeat (labels): their counts are cached; prompts are counted.
            completion = self._completion_tokens.get(example.completion, -1)
            if completion < 0:
                completion = len(encoding.encode_ordinary(example.completion))
                if len(self._completion_tokens) > 4096:
                    self._completion_tokens.clear()
                self._completion_tokens[example.completion] = completion
            tokens = len(encoding.encode_ordinary(example.prompt)) + completion
        self.tokens.append(tokens)
        self.max_completion_tokens = max(self.max_completion_tokens, completion)
        if tokens > self.options.context_limit:
            self.tally.add("too_long", example.line, str(tokens))
            return LONG
        return 0

    def _add_example(self, example: Example) -> None:
        line, prompt, completion, _ = example
        self.examples += 1
        pb = prompt.encode()
        self.lines.append(line)
        self.prompt_keys += sha1(pb).digest()[:8]
        # Completions repeat (labels), so their hash and letter counts are cached.
        cached = self._completion_cache.get(completion)
        if cached is None:
            cb = completion.encode()
            cached = (sha1(cb).digest()[:8], *_letter_case(cb))
            if len(self._completion_cache) > 4096:
                self._completion_cache.clear()
            self._completion_cache[completion] = cached
        self.completion_keys += cached[0]
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
        if self.options.shape == "prompt_completion":
            upper, lower = _letter_case(pb)
            self.upper[0] += upper
            self.lower[0] += lower
            self.upper[1] += cached[1]
            self.lower[1] += cached[2]
            self._add_prompt(line, prompt)
            self._add_completion(line, completion)
        elif prompt != "[]":
            self.prompt_chars += len(prompt)

    def _add_prompt(self, line: int, prompt: str) -> None:
        if not prompt:
            self.empty_prompts += 1
            return
        self.prompt_chars += len(prompt)
        if self.first_prompt is None:
            self.first_prompt = self.prompt_prefix = self.prompt_suffix = prompt
        else:
            if not self.prompts_differ and prompt != self.first_prompt:
                self.prompts_differ = True
            if not prompt.startswith(self.prompt_prefix):  # type: ignore[arg-type]
                self.prompt_prefix = _common_prefix(self.prompt_prefix or "", prompt)
            if not prompt.endswith(self.prompt_suffix):  # type: ignore[arg-type]
                self.prompt_suffix = _common_suffix(self.prompt_suffix or "", prompt)
        if not self.prompt_newline and "\n" in prompt:
            self.prompt_newline = True
        # Which candidate separators occur in the prompt: " ->" (usable only while no prompt has
        # a newline) by itself; the others all start with a blank line, so only the places
        # where one starts are tried. The separator finally reported ends every prompt, so it
        # is among the candidates the running common suffix ends with; those are also looked
        # for inside the prompt.
        suffix, ending = self._inside_checks
        if suffix != self.prompt_suffix:
            suffix = self.prompt_suffix or ""
            ending = [(i, s) for i, s in enumerate(ALL_SEPARATORS) if suffix.endswith(s)]
            self._inside_checks = (suffix, ending)
        unused = self.separators_unused
        if ARROW in unused and (self.prompt_newline or ARROW in prompt):
            unused.remove(ARROW)
        if ending and ending[0][1] == ARROW and prompt.find(ARROW, 0, len(prompt) - 3) >= 0:
            self.tally.add("separator_inside_prompt/0", line)
        if not unused and not ending:
            return
        end = len(prompt)
        start = prompt.find("\n\n")
        while start >= 0:
            for separator in unused:
                if prompt.startswith(separator, start):
                    unused.remove(separator)
                    break
            for index, separator in ending:
                if start < end - len(separator) and prompt.startswith(separator, start):
                    self.tally.add(f"separator_inside_prompt/{index}", line)
            start = prompt.find("\n\n", start + 1)

    def _add_completion(self, line: int, completion: str) -> None:
        if self.first_completion is None:
            self.first_completion = self.completion_prefix = self.completion_suffix = completion
        else:
            if not self.completions_differ and completion != self.first_completion:
                self.completions_differ = True
            if not completion.startswith(self.completion_prefix):  # type: ignore[arg-type]
                self.completion_prefix = _common_prefix(self.completion_prefix or "", completion)
            if not completion.endswith(self.completion_suffix):  # type: ignore[arg-type]
                self.completion_suffix = _common_suffix(self.completion_suffix or "", completion)
        if self.endings_unused:
            self.endings_unused = [e for e in self.endings_unused if e not in completion]
        if completion[:1] not in (" ", "\n", "\t"):
            self.tally.add("no_leading_space", line)

    def merge(self, later: Scan) -> None:
        """Fold in the scan of the lines that follow this one's."""
        self.tally.merge(later.tally)
        self.examples += later.examples
        self.rejected += later.rejected
        self.lines += later.lines
        self.prompt_keys += later.prompt_keys
        self.completion_keys += later.completion_keys
        self.tokens += later.tokens
        self.flags += later.flags
        self.max_completion_tokens = max(self.max_completion_tokens, later.max_completion_tokens)
        self._merge_labels(later)
        self.prompt_chars += later.prompt_chars
        self.empty_prompts += later.empty_prompts
        self.prompt_newline = self.prompt_newline or later.prompt_newline
        self.separators_unused = [s for s in self.separators_unused if s in later.separators_unused]
        self.endings_unused = [e for e in self.endings_unused if e in later.endings_unused]
        for column in (0, 1):
            self.upper[column] += later.upper[column]
            self.lower[column] += later.lower[column]
        self.prompt_texts = _merge_texts(self.prompt_texts, later.prompt_texts)
        self.completion_texts = _merge_texts(self.completion_texts, later.completion_texts)

    def _merge_labels(self, later: Scan) -> None:
        if self.labels is None or later.labels is None:
            self.labels = None
            self.label_ids += array("i", [-1]) * len(later.label_ids)
            return
        mapping = np.empty(len(later.labels) + 1, dtype=np.int32)
        mapping[-1] = -1
        for label, index in later.labels.items():
            mapping[index] = self.labels.setdefault(label, len(self.labels))
        if len(self.labels) > MAX_LABELS:
            self.labels = None
            self.label_ids += array("i", [-1]) * len(later.label_ids)
            return
        remapped = mapping[np.frombuffer(later.label_ids, dtype=np.int32)]
        self.label_ids.frombytes(remapped.astype(np.int32).tobytes())

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
        counts = np.bincount(self.label_array(), minlength=len(self.labels))
        return {label: int(counts[i]) for label, i in self.labels.items()}

    def line_numbers(self) -> np.ndarray:
        """Line number of each example, in file order."""
        return np.frombuffer(self.lines, dtype=np.uint32)

    def duplicate_mask(self) -> np.ndarray:
        """True for every example whose (prompt, completion) pair appeared on an earlier line."""
        with np.errstate(over="ignore"):
            completions = np.frombuffer(self.completion_keys, dtype=np.uint64)
            keys = self.prompt_key_array() ^ (completions * np.uint64(0x9E3779B97F4A7C15))
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        repeat = np.zeros(len(keys), dtype=bool)
        if len(keys) > 1:
            repeat[order[1:]] = ordered[1:] == ordered[:-1]
        return repeat

    def prompt_key_array(self) -> np.ndarray:
        """The 8-byte prompt hash of each example as uint64."""
        return np.frombuffer(self.prompt_keys, dtype=np.uint64)

    def label_array(self) -> np.ndarray:
        """Label id of each example (-1 when not tracked)."""
        return np.frombuffer(self.label_ids, dtype=np.int32)

    def token_array(self) -> np.ndarray:
        """Tokens of each example (empty when tokens were not counted)."""
        return np.frombuffer(self.tokens, dtype=np.uint32)

    def flag_array(self) -> np.ndarray:
        """VERBATIM / LONG flags of each example."""
        return np.frombuffer(self.flags, dtype=np.uint8)


_Texts = tuple[str | None, bool, str | None, str | None]


def _texts(texts: list[str]) -> _Texts:
    """(first text, differ, common prefix, common suffix) of a non-empty list of texts."""
    low, high = min(texts), max(texts)
    prefix = _common_prefix(low, high)
    suffix = texts[0]
    for text in texts:
        if not text.endswith(suffix):
            suffix = _common_suffix(suffix, text)
    return texts[0], low != high, prefix, suffix


@functools.cache
def _inner_pattern(separator: str) -> re.Pattern[str]:
    """Finds the separator anywhere in NUL-joined texts except right before a NUL (the end of
    a text): an occurrence inside a prompt."""
    return re.compile(re.escape(separator) + "(?!\\x00)")


def _found_separators(candidates: tuple[str, ...], text: str) -> set[str]:
    """Which of the candidates (all starting with a blank line) occur in the text: one regex
    scan while none does, rather than one substring search per candidate."""
    found: set[str] = set()
    while candidates:
        match = _any_pattern(candidates).search(text)
        if match is None:
            break
        found.add(match.group())
        candidates = tuple(c for c in candidates if c != match.group())
    return found


@functools.cache
def _any_pattern(candidates: tuple[str, ...]) -> re.Pattern[str]:
    assert all(c.startswith("\n\n") for c in candidates)
    return re.compile("\n\n(?:" + "|".join(re.escape(c[2:]) for c in candidates) + ")")


def _token_count(encoding: Any, text: str) -> int:
    return len(encoding.encode_ordinary(text))


def _merge_texts(first: _Texts, later: _Texts) -> _Texts:
    """Combine (first text, differ, common prefix, common suffix) of two runs of texts."""
    if first[0] is None:
        return later
    if later[0] is None:
        return first
    differ = first[1] or later[1] or first[0] != later[0]
    prefix = _common_prefix(first[2] or "", later[2] or "")
    suffix = _common_suffix(first[3] or "", later[3] or "")
    return first[0], differ, prefix, suffix


def scan_chunk(options: ScanOptions, chunk: Chunk, last_line: int, unterminated: bool) -> Scan:
    """The scan of one chunk (run in a worker process or in-process)."""
    scan = Scan(options)
    scan.add_chunk(chunk, last_line, unterminated)
    scan._completion_cache.clear()  # caches, not results: not sent back
    scan._completion_tokens.clear()
    return scan


def detect_file_shape(chunks: Iterator[Chunk]) -> DataShape:
    """chat or prompt_completion, from the first line that parses as an object."""
    for chunk in chunks:
        for line, payload in chunk.items():
            obj, problems = parse_payload(line, payload, None)
            if not problems and isinstance(obj, dict):
                return detect_shape(obj) or "prompt_completion"
    return "prompt_completion"
