"""Training examples read from a fine-tune JSONL file, in either format, validated line by line.

Prompt/completion lines train on `completion` given `prompt`. Chat lines (`{"messages": [...]}`)
are rendered into a prompt with `render_chat`; every assistant message whose `weight` is not 0
becomes one example: its content is the completion, the conversation before it is the prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from ftkit.errors import DataError

MIN_EXAMPLES = 10
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
Format = Literal["prompt_completion", "chat"]


class TrainingDataError(DataError):
    """A training or validation file the trainer cannot use; `code`/`param` as the API reports."""

    def __init__(self, code: str, message: str, param: str = "training_file") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@dataclass(frozen=True)
class Example:
    """One (prompt, completion) pair the model learns from; chat examples keep the
    conversation before the assistant turn (`messages`) for models with their own template."""

    prompt: str
    completion: str
    messages: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """The examples of one file; `n_records` counts lines (conversations), not examples."""

    format: Format
    examples: list[Example]
    n_records: int


def render_chat(messages: Iterable[Mapping[str, Any]]) -> str:
    """The prompt text for a conversation: ChatML-style turns, ending where the assistant speaks.

    `<|im_start|>{role}\\n{content}<|im_end|>\\n` per message, then `<|im_start|>assistant\\n`.
    The same rendering is used in training and in chat completions.
    """
    turns = (f"<|im_start|>{m['role']}\n{message_text(m)}<|im_end|>\n" for m in messages)
    return "".join(turns) + "<|im_start|>assistant\n"


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text: its string content, or the text parts of a content list."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def read_dataset(path: Path, *, param: str = "training_file", min_examples: int = 0) -> Dataset:
    """Read and validate a JSONL file; raise TrainingDataError naming the first bad line.

    With `min_examples`, fewer records raise `invalid_n_examples` (the API needs 10 to train).
    """
    kind = "training" if param == "training_file" else "validation"
    code = f"invalid_{kind}_file"
    prefix = f"The job failed due to an invalid {kind} file. Invalid file format."
    examples: list[Example] = []
    formats: set[Format] = set()
    n_records = 0
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise TrainingDataError(code, f"The file {path.name} cannot be read: {exc}", param) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record_format, record_examples = _parse_line(raw)
            except ValueError as exc:
                message = f"{prefix} Line {number}: {exc}"
                raise TrainingDataError(code, message, param) from None
            formats.add(record_format)
            if len(formats) > 1:
                message = (
                    f"{prefix} Line {number}: mixes chat `messages` lines with prompt/completion "
                    "lines; use one format per file."
                )
                raise TrainingDataError(code, message, param)
            examples.extend(record_examples)
            n_records += 1
    if n_records < min_examples:
        message = (
            f"Training file has {n_records} example(s), but must have at least "
            f"{min_examples} examples"
        )
        raise TrainingDataError("invalid_n_examples", message, param)
    return Dataset(next(iter(formats), "prompt_completion"), examples, n_records)


def _parse_line(raw: bytes) -> tuple[Format, list[Example]]:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc}).") from None
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object.")
    if "messages" in record:
        return "chat", _chat_examples(record["messages"])
    completion = record.get("completion")
    prompt = record.get("prompt", "")
    if not isinstance(completion, str):
        raise ValueError('expected a string "completion" (or a chat "messages" list).')
    if not isinstance(prompt, str):
        raise ValueError('"prompt" must be a string.')
    return "prompt_completion", [Example(prompt, completion)]


def _chat_examples(messages: Any) -> list[Example]:
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" must be a non-empty list.')
    examples = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ValueError(f"messages[{index}] needs a role among {', '.join(ROLES)}.")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise ValueError(f"messages[{index}].content must be a string.")
        if message["role"] == "assistant" and message.get("weight", 1) != 0:
            context = messages[:index]
            examples.append(Example(render_chat(context), message_text(message), tuple(context)))
    if not examples:
        raise ValueError("no assistant message to train on (all have weight 0 or none exist).")
    return examples
