"""The `validating_files` phase: count examples and check each line's format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from ftkit.backend.records import JobError

MIN_EXAMPLES = 10
Format = Literal["prompt_completion", "chat"]


@dataclass(frozen=True)
class Inspection:
    """What a training or validation file holds."""

    examples: int
    format: Format | None
    bad_line: int | None = None


def inspect_file(path: Path) -> Inspection:
    """Count examples; the format is the first line's; the first line of another shape is bad."""
    examples, fmt, bad = 0, None, None
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line_format = _line_format(orjson.loads(raw))
            except orjson.JSONDecodeError:
                line_format = None
            fmt = fmt or line_format
            if line_format is None or line_format != fmt:
                bad = bad or number
            examples += 1
    return Inspection(examples, fmt, bad)


def _line_format(value: object) -> Format | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("prompt"), str) and isinstance(value.get("completion"), str):
        return "prompt_completion"
    messages = value.get("messages")
    if isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages):
        return "chat"
    return None


def check_file(
    inspection: Inspection, *, file_id: str, param: str, model: str, wanted: Format
) -> JobError | None:
    """The job error a file causes, or None when it can be trained on."""
    code = "invalid_training_file" if param == "training_file" else "invalid_validation_file"
    prefix = (
        "The job failed due to an invalid training file."
        if param == "training_file"
        else ("The job failed due to an invalid validation file.")
    )
    if inspection.bad_line is not None:
        shape = (
            '"prompt" and "completion" strings'
            if wanted == "prompt_completion"
            else ('a non-empty "messages" list')
        )
        message = (
            f"{prefix} Invalid file format. Line {inspection.bad_line} of {file_id} must be a "
            f"JSON object with {shape}, like the lines before it."
        )
        return JobError(code=code, message=message, param=param)
    if inspection.format is not None and inspection.format != wanted:
        message = (
            f"{prefix} Invalid file format. Input file {file_id} is in the "
            f"{_format_name(inspection.format)} format, but the model {model} is trained on the "
            f"{_format_name(wanted)} format."
        )
        return JobError(code=code, message=message, param=param)
    if param == "training_file" and inspection.examples < MIN_EXAMPLES:
        message = (
            f"Training file has {inspection.examples} example(s), but must have at least "
            f"{MIN_EXAMPLES} examples"
        )
        return JobError(code="invalid_n_examples", message=message, param=param)
    return None


def _format_name(fmt: Format) -> str:
    return "fine-tune-chat" if fmt == "chat" else "prompt-completion"
