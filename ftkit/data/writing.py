"""The second pass: apply fixes and write the split files.

Lines the first pass found clean are copied byte for byte when no fix changes text; otherwise
each example is parsed, fixed, re-counted and serialised. Chunks may run in worker processes;
results come back in file order and are written and hashed in the main process.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import orjson

from ftkit.data.checks import VERBATIM
from ftkit.data.counting import example_tokens
from ftkit.data.models import DataShape, TextFixes
from ftkit.data.parsing import CHAT_MESSAGE_KEYS, CHAT_TOP_KEYS, parse_payload, to_example
from ftkit.data.reading import Chunk
from ftkit.data.splitting import SKIP
from ftkit.data.tokens import get_encoding

SPLIT_MASK = 0x03


@dataclass(frozen=True)
class Plan:
    """Everything the second pass needs to know, small enough to send to workers."""

    shape: DataShape
    write: bool = True
    encoding: str | None = None  # count tokens again (only when fixes change text)
    fixes: TextFixes = field(default_factory=TextFixes)

    @property
    def rewrites(self) -> bool:
        """True when some fix changes the text of examples."""
        return self.fixes.change_text


@dataclass
class ChunkResult:
    """What one chunk contributes, per split (train, validation, test)."""

    blobs: list[bytes]
    examples: list[int] = field(default_factory=lambda: [0, 0, 0])
    tokens: list[int] = field(default_factory=lambda: [0, 0, 0])
    fixes: Counter[str] = field(default_factory=Counter)
    max_example_tokens: int = 0
    max_completion_tokens: int = 0


def process_chunk(plan: Plan, chunk: Chunk, codes: bytes) -> ChunkResult:
    """Fix and serialise the examples of one chunk; `codes[line - chunk.first_line]` is each
    line's split (SKIP for lines that are not written), with VERBATIM set for clean raw lines."""
    lines = chunk.raw_lines()
    if lines is not None and not plan.rewrites and set(codes) <= _COPIED:
        return _copied(plan, lines, codes)
    parts: list[list[bytes]] = [[], [], []]
    result = ChunkResult(blobs=[])
    rewrites = plan.rewrites
    encoding = get_encoding(plan.encoding) if plan.encoding else None
    first_line = chunk.first_line
    for line, payload in chunk.items(lines):
        code = codes[line - first_line]
        if code == SKIP:
            continue
        split = code & SPLIT_MASK
        result.examples[split] += 1
        if code & VERBATIM and not rewrites:
            parts[split].append(payload.strip())
            continue
        obj, _ = parse_payload(line, payload, plan.shape)
        example, _ = to_example(line, obj, plan.shape)
        assert example is not None  # the first pass accepted this line
        prompt = fix_prompt(plan.fixes, example.prompt, result.fixes)
        completion = fix_completion(plan.fixes, example.completion, result.fixes)
        if plan.shape == "chat":
            record = _chat_record(example.record)
        else:
            record = {"prompt": prompt, "completion": completion}
        if encoding is not None:
            chat = record if plan.shape == "chat" else None
            tokens, completion_tokens = example_tokens(prompt, completion, chat, encoding)
            result.tokens[split] += tokens
            result.max_example_tokens = max(result.max_example_tokens, tokens)
            result.max_completion_tokens = max(result.max_completion_tokens, completion_tokens)
        parts[split].append(orjson.dumps(record))
    if plan.write:
        result.blobs = [b"\n".join(part) + b"\n" if part else b"" for part in parts]
    return result


_COPIED = {SKIP, *(split | VERBATIM for split in range(3))}


def _copied(plan: Plan, lines: list[bytes], codes: bytes) -> ChunkResult:
    """process_chunk for a chunk whose kept lines are all copied as they are: a split at a time."""
    result = ChunkResult(blobs=[b"", b"", b""])
    for split in range(3):
        wanted = codes.translate(_SELECT[split])  # 1 where the line goes to this split, else 0
        result.examples[split] = wanted.count(1)
        if plan.write and result.examples[split]:
            kept = map(bytes.strip, compress(lines, wanted))
            result.blobs[split] = b"\n".join(kept) + b"\n"
    return result


_SELECT = [bytes(int(code == split | VERBATIM) for code in range(256)) for split in range(3)]


def _chat_record(record: dict[str, Any]) -> dict[str, Any]:
    """The chat example with only the keys the API accepts (unknown ones were reported)."""
    kept = {key: value for key, value in record.items() if key in CHAT_TOP_KEYS}
    kept["messages"] = [
        {key: value for key, value in message.items() if key in CHAT_MESSAGE_KEYS}
        for message in record["messages"]
    ]
    return kept


def fix_prompt(fixes: TextFixes, prompt: str, counts: Counter[str] | None = None) -> str:
    """The prompt after the prompt fixes; `counts` counts each change."""
    counts = counts if counts is not None else Counter()
    prefix = fixes.strip_prompt_prefix
    if prefix and prompt.startswith(prefix):
        prompt = prompt[len(prefix) :]
        counts["strip-prompt-prefix"] += 1
    if fixes.lowercase_prompt and prompt != (lowered := prompt.lower()):
        prompt = lowered
        counts["lowercase"] += 1
    if fixes.add_separator is not None:
        prompt += fixes.add_separator
        counts["add-separator"] += 1
    return prompt


def fix_completion(fixes: TextFixes, completion: str, counts: Counter[str] | None = None) -> str:
    """The completion after the completion fixes; `counts` counts each change."""
    counts = counts if counts is not None else Counter()
    prefix = fixes.strip_completion_prefix
    if prefix and completion.startswith(prefix):
        completion = completion[len(prefix) :]
        if prefix.startswith(" ") and not completion.startswith(" "):
            completion = " " + completion
        counts["strip-completion-prefix"] += 1
    if fixes.lowercase_completion and completion != (lowered := completion.lower()):
        completion = lowered
        counts["lowercase"] += 1
    if fixes.add_ending is not None:
        completion += fixes.add_ending
        counts["add-ending"] += 1
    if fixes.add_space and completion[:1] not in (" ", "\n", "\t"):
        completion = " " + completion
        counts["add-space"] += 1
    return completion


class SplitWriter:
    """Three output files written to temporary names, hashed as they grow, kept or discarded.

    Writing and hashing run on a thread of their own (both release the GIL), overlapping the
    main thread's work on the next chunk; at most a few chunk results wait in between. Used as
    a context manager: leaving it by an exception discards the temporary files."""

    def __init__(self, paths: list[Path], write: bool) -> None:
        self.paths = paths
        self.write = write
        self.temps = [path.with_name(f".{path.name}.partial") for path in paths]
        self.files = [temp.open("wb") for temp in self.temps] if write else []
        self.hashes = [hashlib.sha256() for _ in paths]
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=4)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="ftkit-split-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self._stop()
            self._discard()

    def add(self, result: ChunkResult) -> None:
        """Append one chunk's output."""
        if self._failure is not None:
            raise self._failure
        if self.write and any(result.blobs):
            self._queue.put(result.blobs)

    def finish(self, keep: list[bool]) -> list[str]:
        """Close; move kept files into place, remove the rest; sha256 per file."""
        self._stop()
        if self._failure is not None:
            self._discard()
            raise self._failure
        for temp, path, wanted in zip(self.temps, self.paths, keep, strict=True):
            if self.write and wanted:
                temp.replace(path)
            else:
                temp.unlink(missing_ok=True)
                path.unlink(missing_ok=True)
        return [digest.hexdigest() for digest in self.hashes]

    def _drain(self) -> None:
        while (blobs := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # keep taking results so the producer never blocks
            try:
                for file, digest, blob in zip(self.files, self.hashes, blobs, strict=True):
                    if blob:
                        file.write(blob)
                        digest.update(blob)
            except BaseException as exc:  # handed to the main thread by add/finish
                self._failure = exc

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()
        for file in self.files:
            file.close()

    def _discard(self) -> None:
        for temp in self.temps:
            temp.unlink(missing_ok=True)
