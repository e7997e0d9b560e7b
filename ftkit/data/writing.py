"""The second pass: apply fixes, count exact tokens, write the split files.

Chunks of lines are processed by `process_chunk`, in worker processes when token counting makes
that pay; results come back in file order and are written and hashed in the main process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ftkit.data.checks import Tally
from ftkit.data.models import DataShape
from ftkit.data.parsing import CHAT_TOP_KEYS, parse_payload, to_example
from ftkit.data.reading import Chunk
from ftkit.data.splitting import SKIP
from ftkit.data.tokens import get_encoding

CHARS_PER_TOKEN_BOUND = 4  # without token counts, longer than 4 chars × limit is suspicious
PARALLEL_MIN_BYTES = 8 << 20


@dataclass(frozen=True)
class Plan:
    """Everything the second pass needs to know, small enough to send to workers."""

    shape: DataShape
    encoding: str | None
    context_limit: int
    max_lines: int
    classification: bool
    write: bool = True
    drop_long: bool = False
    add_separator: str | None = None
    add_ending: str | None = None
    strip_prompt_prefix: str | None = None
    strip_completion_prefix: str | None = None
    add_space: bool = False
    lowercase_prompt: bool = False
    lowercase_completion: bool = False
    separator: str | None = None  # the prompts' own separator, checked for inner occurrences


@dataclass
class ChunkResult:
    """What one chunk contributes to the outputs, per split (train, validation, test)."""

    blobs: list[bytes]
    examples: list[int]
    tokens: list[int]
    labels: list[Counter[str]]
    tally: Tally
    fixes: Counter[str] = field(default_factory=Counter)
    max_example_tokens: int = 0
    max_completion_tokens: int = 0


def process_chunk(plan: Plan, chunk: Chunk, codes: bytes, first_line: int) -> ChunkResult:
    """Fix, count and serialise the examples of one chunk; `codes[line - first_line]` is the
    split of each line (SKIP for lines that are not written)."""
    encoding = get_encoding(plan.encoding) if plan.encoding else None
    parts: list[list[bytes]] = [[], [], []]
    result = ChunkResult(
        blobs=[],
        examples=[0, 0, 0],
        tokens=[0, 0, 0],
        labels=[Counter(), Counter(), Counter()],
        tally=Tally(plan.max_lines),
    )
    for line, payload in chunk:
        split = codes[line - first_line]
        if split == SKIP:
            continue
        obj, _ = parse_payload(line, payload, plan.shape)
        example, _ = to_example(line, obj, plan.shape)
        if example is None:  # cannot happen for lines the first pass accepted
            continue
        prompt, completion = _fixed(plan, example.prompt, example.completion, result.fixes)
        if plan.separator and plan.separator in prompt[: -len(plan.separator)]:
            result.tally.add("separator_inside_prompt", line)
        if plan.shape == "chat":
            record = {key: value for key, value in example.record.items() if key in CHAT_TOP_KEYS}
        else:
            record = {"prompt": prompt, "completion": completion}
        if encoding is not None:
            tokens, completion_tokens = _count(plan, record, encoding)
            result.max_completion_tokens = max(result.max_completion_tokens, completion_tokens)
            result.max_example_tokens = max(result.max_example_tokens, tokens)
            too_long = tokens > plan.context_limit
            if too_long:
                result.tally.add("too_long", line, str(tokens))
        else:
            tokens = 0
            too_long = len(prompt) + len(completion) > CHARS_PER_TOKEN_BOUND * plan.context_limit
            if too_long:
                result.tally.add("maybe_too_long", line)
        if too_long and plan.drop_long:
            result.fixes["drop-long"] += 1
            continue
        result.examples[split] += 1
        result.tokens[split] += tokens
        if plan.classification:
            result.labels[split][completion] += 1
        if plan.write:
            parts[split].append(orjson.dumps(record))
    result.blobs = [b"\n".join(part) + b"\n" if part else b"" for part in parts]
    return result


def _fixed(plan: Plan, prompt: str, completion: str, fixes: Counter[str]) -> tuple[str, str]:
    prefix = plan.strip_prompt_prefix
    if prefix and prompt.startswith(prefix):
        prompt = prompt[len(prefix) :]
        fixes["strip-prompt-prefix"] += 1
    if plan.lowercase_prompt and prompt != (lowered := prompt.lower()):
        prompt = lowered
        fixes["lowercase"] += 1
    if plan.add_separator is not None:
        prompt += plan.add_separator
        fixes["add-separator"] += 1
    prefix = plan.strip_completion_prefix
    if prefix and completion.startswith(prefix):
        completion = completion[len(prefix) :]
        if prefix.startswith(" ") and not completion.startswith(" "):
            completion = " " + completion
        fixes["strip-completion-prefix"] += 1
    if plan.lowercase_completion and completion != (lowered := completion.lower()):
        completion = lowered
        fixes["lowercase"] += 1
    if plan.add_ending is not None:
        completion += plan.add_ending
        fixes["add-ending"] += 1
    if plan.add_space and completion[:1] not in (" ", "\n", "\t"):
        completion = " " + completion
        fixes["add-space"] += 1
    return prompt, completion


def _count(plan: Plan, record: dict[str, Any], encoding: Any) -> tuple[int, int]:
    """(tokens of the example, tokens of what the model learns to write)."""
    encode = encoding.encode_ordinary
    if plan.shape != "chat":
        completion = len(encode(record["completion"]))
        return len(encode(record["prompt"])) + completion, completion
    # Chat: content and role tokens plus the 3-token message framing and the 3-token reply
    # priming of the OpenAI cookbook's counting recipe.
    total = 3
    last = 0
    for message in record["messages"]:
        content = message.get("content")
        content_tokens = len(encode(content)) if isinstance(content, str) else 0
        total += 3 + content_tokens + len(encode(message["role"]))
        if isinstance(message.get("name"), str):
            total += 1 + len(encode(message["name"]))
        if message["role"] == "assistant":
            last = content_tokens
    return total, last


# -- running the pass ------------------------------------------------------------------------

_worker_plan: Plan | None = None


def _init_worker(plan: Plan) -> None:
    global _worker_plan
    _worker_plan = plan


def _work(chunk: Chunk, codes: bytes, first_line: int) -> ChunkResult:
    assert _worker_plan is not None
    return process_chunk(_worker_plan, chunk, codes, first_line)


def run_chunks(
    plan: Plan, chunks: Iterator[Chunk], codes: bytes, *, parallel: bool
) -> Iterator[ChunkResult]:
    """Results of every chunk in file order; in worker processes when `parallel`."""
    if not parallel:
        for chunk in chunks:
            first = chunk[0][0]
            yield process_chunk(plan, chunk, codes[first : chunk[-1][0] + 1], first)
        return
    if plan.encoding:
        get_encoding(plan.encoding)  # build once here; forked workers inherit it
    workers = os.cpu_count() or 1
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, context, _init_worker, (plan,)) as pool:
        pending: list[Future[ChunkResult]] = []
        for chunk in chunks:
            first = chunk[0][0]
            pending.append(pool.submit(_work, chunk, codes[first : chunk[-1][0] + 1], first))
            if len(pending) > 2 * workers:  # bounded: memory stays a few chunks
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


class SplitWriter:
    """Three output files written to temporary names, hashed as they grow, kept or discarded."""

    def __init__(self, paths: list[Path], write: bool) -> None:
        self.paths = paths
        self.write = write
        self.temps = [path.with_name(f".{path.name}.partial") for path in paths]
        self.files = [temp.open("wb") for temp in self.temps] if write else []
        self.hashes = [hashlib.sha256() for _ in paths]

    def add(self, result: ChunkResult) -> None:
        """Append one chunk's output."""
        for index, blob in enumerate(result.blobs):
            if blob and self.write:
                self.files[index].write(blob)
                self.hashes[index].update(blob)

    def finish(self, keep: list[bool]) -> list[str]:
        """Close; move kept files into place, remove the rest; sha256 per file."""
        for file in self.files:
            file.close()
        for temp, path, wanted in zip(self.temps, self.paths, keep, strict=True):
            if self.write and wanted:
                temp.replace(path)
            else:
                temp.unlink(missing_ok=True)
                path.unlink(missing_ok=True)
        return [digest.hexdigest() for digest in self.hashes]
