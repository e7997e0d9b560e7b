"""What data preparation reports: findings, splits, tokens, cost, and the whole PreparedData."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ftkit.errors import DataError

Severity = Literal["error", "warning", "info"]
SplitName = Literal["train", "validation", "test"]
DataShape = Literal["prompt_completion", "chat"]
TaskType = Literal["classification", "conditional_generation", "open_ended_generation"]

SPLIT_NAMES: tuple[SplitName, ...] = ("train", "validation", "test")
SPLIT_FILES: dict[SplitName, str] = {
    "train": "train.jsonl",
    "validation": "valid.jsonl",
    "test": "test.jsonl",
}
SOURCE_LINES_FILE = "source_lines.npz"  # per split: each example's line in its source file


@dataclass
class TextFixes:
    """The opt-in fixes that change the text of examples, as the checks decided them."""

    add_separator: str | None = None
    add_ending: str | None = None
    strip_prompt_prefix: str | None = None
    strip_completion_prefix: str | None = None
    add_space: bool = False
    lowercase_prompt: bool = False
    lowercase_completion: bool = False

    @property
    def change_text(self) -> bool:
        """True when some fix changes the text of examples."""
        return bool(
            self.add_separator
            or self.add_ending
            or self.strip_prompt_prefix
            or self.strip_completion_prefix
            or self.add_space
            or self.lowercase_prompt
            or self.lowercase_completion
        )


def counted(count: int, noun: str) -> str:
    """`1 example`, `2 examples`: a count with its noun in the right number."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class Finding(BaseModel):
    """One problem or fact about the dataset, with the lines it concerns."""

    code: str = Field(description="Stable identifier, e.g. invalid_json or duplicates.")
    severity: Severity
    message: str = Field(description="What was found and what to do about it.")
    lines: list[int] = Field(default_factory=list, description="Affected lines, capped list.")
    count: int = Field(0, description="How many lines (or examples) are affected in all.")
    fixed_by: str | None = Field(None, description="The fix that removed the problem, if any.")
    source: str | None = Field(
        None, description="The file the lines belong to when it is not data.source."
    )


class SplitInfo(BaseModel):
    """One written split file."""

    path: str
    examples: int
    sha256: str
    label_counts: dict[str, int] = Field(default_factory=dict)
    tokens: int | None = Field(None, description="Prompt + completion tokens; None if not counted.")


class FixReport(BaseModel):
    """A fix that was applied, and to how many examples."""

    name: str
    count: int
    detail: str


class TokenStats(BaseModel):
    """Exact token figures for the target model's encoding."""

    counted: bool
    encoding: str
    billed_per_epoch: int | None = Field(None, description="Tokens of the training split.")
    total: int | None = Field(None, description="Tokens of all written splits.")
    max_example: int | None = None
    context_limit: int | None = Field(None, description="Tokens per example the model trains on.")


class CostEstimate(BaseModel):
    """Billed tokens × epochs × price; no price is ever invented."""

    model: str
    n_epochs: int
    n_epochs_assumed: bool = Field(description="True when the provider default (4) was assumed.")
    price_per_1k_tokens: float | None
    price_source: str | None
    billed_tokens: int | None
    usd: float | None
    note: str


class FlaggedLine(BaseModel):
    """An example the provider's moderation flagged: where it is and why."""

    split: SplitName
    line: int = Field(description="1-based line in the prepared split file (before any drop).")
    categories: list[str]


class ModerationScreen(BaseModel):
    """What the moderation pre-screen found and did (`data.moderation`)."""

    model: str
    on_flagged: Literal["fail", "drop", "warn"]
    screened: int = Field(description="Examples sent to /v1/moderations.")
    flagged: list[FlaggedLine] = Field(default_factory=list)
    dropped: int = 0

    def summary(self, listed: int = 10) -> str:
        """One sentence naming the first flagged lines and their categories."""
        named = ", ".join(
            f"{f.split} line {f.line} ({', '.join(f.categories) or 'flagged'})"
            for f in self.flagged[:listed]
        )
        more = f" and {len(self.flagged) - listed} more" if len(self.flagged) > listed else ""
        return (
            f"moderation ({self.model}) flagged {len(self.flagged)} of {self.screened} "
            f"examples: {named}{more}; see prepared/validation.json"
        )


class PreparedData(BaseModel):
    """The result of preparing a dataset; also written as validation.json."""

    source: str
    validation_source: str | None = None
    out_dir: str
    model: str
    format: DataShape
    task_type: TaskType
    lines: int = Field(description="Lines (or rows/items) read from the source file(s).")
    examples: int = Field(description="Well-formed examples found in the source file(s).")
    splits: dict[SplitName, SplitInfo] = Field(default_factory=dict)
    split_fractions: dict[SplitName, float]
    seed: int
    stratified: bool
    classes: list[str] = Field(default_factory=list)
    label_counts: dict[str, int] = Field(default_factory=dict)
    prompt_separator: str | None = None
    completion_stop: str | None = None
    max_completion_tokens: int | None = None
    findings: list[Finding] = Field(default_factory=list)
    errors: int = 0
    warnings: int = 0
    tokens: TokenStats
    cost: CostEstimate
    fixes_applied: list[FixReport] = Field(default_factory=list)
    written: bool = Field(description="False when errors remain: no split files were written.")
    moderation: ModerationScreen | None = Field(
        None, description="The moderation pre-screen, when `data.moderation` asked for one."
    )


class DataValidationError(DataError):
    """Errors remain in the dataset after the requested fixes; carries the full report."""

    exit_code = 1

    def __init__(self, message: str, prepared: PreparedData) -> None:
        super().__init__(message)
        self.prepared = prepared
