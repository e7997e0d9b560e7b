"""Held-out predictions: the fine-tuned model (and a baseline) answer every evaluation example.

Prompt/completion data goes through `/v1/completions` with batched prompts; chat data through
`/v1/chat/completions`, one conversation per request. Requests run with bounded concurrency;
retries are the client's. Temperature is 0; the stop sequence and max tokens come from the data
(`evaluate.max_tokens` overrides). Classification data asks for logprobs and turns them into
class probabilities (`ftkit.evaluate.classes`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, Field

from ftkit.config import ExperimentConfig
from ftkit.data.models import SPLIT_FILES, PreparedData
from ftkit.data.tokens import encoding_name, get_encoding
from ftkit.errors import ConfigError, DataError
from ftkit.evaluate.classes import (
    ClassProbabilities,
    TokenLogprobs,
    class_probabilities,
    class_token_paths,
    match_label,
    strip_stop,
)
from ftkit.evaluate.metrics import class_labels, headline_metrics
from ftkit.evaluate.predictions import (
    BASELINE_PREDICTIONS_FILE,
    PREDICTIONS_FILE,
    Prediction,
    write_predictions,
)
from ftkit.runs.atomic import read_json, write_json_atomic

EVALUATION_FILE = "evaluation.json"
PREPARED_DIR = "prepared"
CHAMPION_FILE = "champion.json"
DEFAULT_MAX_TOKENS = 256


class EvaluationResult(BaseModel):
    """What an evaluation produced; also written as evaluation.json in the run folder."""

    split: str
    examples: int
    task_type: str
    format: str
    model: str
    baseline_model: str | None = None
    baseline_skipped: str | None = Field(None, description="Why there is no baseline, if so.")
    predictions_file: str = PREDICTIONS_FILE
    baseline_predictions_file: str | None = None
    max_tokens: int
    stop: str | None
    logprobs: int | None
    batch_size: int
    concurrency: int
    seconds: float
    baseline_seconds: float | None = None
    predictions_per_s: float
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Headline metrics of the fine-tuned model."
    )


@dataclass(frozen=True)
class Example:
    """One evaluation example: the prompt (or conversation) and the expected answer."""

    index: int
    line: int
    prompt: str
    messages: list[dict[str, Any]] | None
    expected: str


@dataclass(frozen=True)
class Plan:
    """How to ask one model about the examples."""

    chat: bool
    max_tokens: int
    stop: str | None
    logprobs: int | None
    batch_size: int
    concurrency: int
    classes: list[str]
    paths_for: Callable[[str], dict[str, list[str]]]


class _Completions(Protocol):
    def create(self, model: str, prompts: list[str], **kwargs: Any) -> Awaitable[list[Any]]: ...


class _Chat(Protocol):
    def create(
        self, model: str, messages: list[dict[str, Any]], **kwargs: Any
    ) -> Awaitable[list[Any]]: ...


class CompletionsClient(Protocol):
    """The part of `ftkit.api.AsyncClient` evaluation uses."""

    @property
    def completions(self) -> _Completions: ...

    @property
    def chat(self) -> _Chat: ...


async def evaluate_run(
    run_dir: Path, client: CompletionsClient, config: ExperimentConfig, fine_tuned_model: str
) -> EvaluationResult:
    """Predict the evaluation split with the fine-tuned model and the baseline (async).

    Writes predictions.jsonl, baseline_predictions.jsonl (unless the baseline is skipped) and
    evaluation.json into `run_dir`; returns the EvaluationResult.
    """
    prepared = load_prepared(run_dir)
    split = choose_split(prepared, config.evaluate.split)
    examples = load_examples(run_dir, prepared, split)
    plan = make_plan(prepared, config)

    started = time.perf_counter()
    rows = await predict(client, fine_tuned_model, examples, plan)
    seconds = time.perf_counter() - started
    write_predictions(rows, run_dir / PREDICTIONS_FILE)

    baseline, skipped = resolve_baseline(config, run_dir, fine_tuned_model)
    baseline_seconds = None
    if baseline is not None:
        started = time.perf_counter()
        baseline_rows = await predict(client, baseline, examples, plan)
        baseline_seconds = time.perf_counter() - started
        write_predictions(baseline_rows, run_dir / BASELINE_PREDICTIONS_FILE)
    else:
        (run_dir / BASELINE_PREDICTIONS_FILE).unlink(missing_ok=True)

    result = EvaluationResult(
        split=split,
        examples=len(examples),
        task_type=prepared.task_type,
        format=prepared.format,
        model=fine_tuned_model,
        baseline_model=baseline,
        baseline_skipped=skipped,
        baseline_predictions_file=BASELINE_PREDICTIONS_FILE if baseline else None,
        max_tokens=plan.max_tokens,
        stop=plan.stop,
        logprobs=plan.logprobs,
        batch_size=plan.batch_size,
        concurrency=plan.concurrency,
        seconds=round(seconds, 3),
        baseline_seconds=None if baseline_seconds is None else round(baseline_seconds, 3),
        predictions_per_s=round(len(rows) / seconds, 1) if seconds > 0 else 0.0,
        metrics=headline_metrics(rows, prepared, config),
    )
    write_json_atomic(run_dir / EVALUATION_FILE, result.model_dump(mode="json"))
    return result


def load_prepared(run_dir: Path) -> PreparedData:
    """prepared/validation.json of a run; DataError if it is missing or unreadable."""
    path = run_dir / PREPARED_DIR / "validation.json"
    try:
        return PreparedData.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        msg = f"{path} not found: prepare the data first (`ftkit prepare` or `ftkit run`)."
        raise DataError(msg) from None
    except ValueError as exc:
        msg = f"{path}: not a data-preparation report ({exc})."
        raise DataError(msg) from None


def choose_split(prepared: PreparedData, setting: str) -> str:
    """The split to evaluate: test if present, else validation (or the one configured)."""
    available = [name for name, info in prepared.splits.items() if info.examples > 0]
    if setting != "auto":
        if setting not in available:
            msg = (
                f"evaluate.split is {setting!r} but the prepared data has no {setting} examples "
                f"(splits: {', '.join(available) or 'none'}); set evaluate.split=auto or change "
                "data.split."
            )
            raise ConfigError(msg)
        return setting
    for name in ("test", "validation"):
        if name in available:
            return name
    msg = "no test or validation examples to evaluate on: give data.split.test or .validation > 0."
    raise ConfigError(msg)


def load_examples(run_dir: Path, prepared: PreparedData, split: str) -> list[Example]:
    """The examples of one split, from the run folder's prepared copy."""
    path = run_dir / PREPARED_DIR / SPLIT_FILES[split]  # type: ignore[index]
    if not path.is_file():
        path = Path(prepared.splits[split].path)  # type: ignore[index]
    stop = prepared.completion_stop
    examples: list[Example] = []
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                examples.append(_example(len(examples), line_number, record, stop))
            except (orjson.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
                msg = f"{path}:{line_number}: not a prepared example ({exc!r}); prepare again."
                raise DataError(msg) from None
    return examples


def _example(index: int, line: int, record: dict[str, Any], stop: str | None) -> Example:
    if "messages" in record:
        messages = record["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        users = [m for m in messages[:last] if m["role"] == "user"]
        return Example(
            index=index,
            line=line,
            prompt=str(users[-1]["content"]) if users else "",
            messages=messages[:last],
            expected=strip_stop(str(messages[last]["content"]), stop),
        )
    return Example(
        index=index,
        line=line,
        prompt=record["prompt"],
        messages=None,
        expected=strip_stop(record["completion"], stop),
    )


def make_plan(prepared: PreparedData, config: ExperimentConfig) -> Plan:
    """Request settings derived from the data and the evaluate section."""
    settings = config.evaluate
    stop = prepared.completion_stop
    classes = class_labels(prepared)

    def paths_for(model: str) -> dict[str, list[str]]:
        return class_token_paths(classes, get_encoding(encoding_name(model)), stop)

    if settings.max_tokens is not None:
        max_tokens = settings.max_tokens
    elif classes:
        # a class's path ends with the stop's token(s)
        max_tokens = max(len(path) for path in paths_for(config.job.model).values())
    else:
        max_tokens = prepared.max_completion_tokens or DEFAULT_MAX_TOKENS
    return Plan(
        chat=prepared.format == "chat",
        max_tokens=max_tokens,
        stop=stop,
        logprobs=settings.logprobs if classes else None,
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        classes=classes,
        paths_for=paths_for,
    )


def resolve_baseline(
    config: ExperimentConfig, run_dir: Path, fine_tuned_model: str
) -> tuple[str | None, str | None]:
    """(baseline model, None) or (None, why it is skipped)."""
    setting = config.evaluate.baseline
    if setting is None:
        return None, "evaluate.baseline is null"
    if setting == "base":
        return config.job.model, None
    if setting == "champion":
        path = run_dir.parent / CHAMPION_FILE
        if not path.is_file():
            return None, "no champion yet for this experiment"
        model = read_json(path).get("model")
        if not model or model == fine_tuned_model:
            return None, "this run's model is the champion"
        return str(model), None
    return setting, None


async def predict(
    client: CompletionsClient, model: str, examples: Sequence[Example], plan: Plan
) -> list[Prediction]:
    """Every example answered by `model`, in example order."""
    paths = plan.paths_for(model) if plan.classes else {}
    gate = asyncio.Semaphore(plan.concurrency)

    async def completions(batch: Sequence[Example]) -> list[Prediction]:
        async with gate:
            choices = await client.completions.create(
                model,
                [example.prompt for example in batch],
                max_tokens=plan.max_tokens,
                temperature=0,
                logprobs=plan.logprobs,
                stop=plan.stop,
            )
        by_index = {choice.index: choice for choice in choices}
        return [
            _prediction(
                example,
                plan,
                paths,
                by_index[i].text,
                by_index[i].finish_reason,
                by_index[i].logprobs,
            )
            for i, example in enumerate(batch)
        ]

    async def chat(example: Example) -> list[Prediction]:
        options: dict[str, Any] = {}
        if plan.logprobs is not None:
            options = {"logprobs": True, "top_logprobs": plan.logprobs}
        async with gate:
            choices = await client.chat.create(
                model,
                example.messages or [],
                max_tokens=plan.max_tokens,
                temperature=0,
                stop=plan.stop,
                **options,
            )
        choice = choices[0]
        logprobs = ChatLogprobs.parse(choice.logprobs)
        return [
            _prediction(example, plan, paths, choice.content or "", choice.finish_reason, logprobs)
        ]

    if plan.chat:
        tasks = [chat(example) for example in examples]
    else:
        size = plan.batch_size
        tasks = [completions(examples[i : i + size]) for i in range(0, len(examples), size)]
    return [row for rows in await asyncio.gather(*tasks) for row in rows]


def _prediction(
    example: Example,
    plan: Plan,
    paths: dict[str, list[str]],
    text: str,
    finish_reason: str | None,
    logprobs: TokenLogprobs | None,
) -> Prediction:
    probabilities: ClassProbabilities | None = None
    if plan.classes:
        predicted = match_label(text, plan.classes, plan.stop)
        if logprobs is not None and logprobs.tokens:
            probabilities = class_probabilities(paths, logprobs, plan.stop)
    else:
        predicted = strip_stop(text, plan.stop)
    return Prediction(
        index=example.index,
        line=example.line,
        prompt=example.prompt,
        expected=example.expected,
        predicted=predicted,
        text=text,
        finish_reason=finish_reason,
        probabilities=probabilities.probabilities if probabilities else None,
        class_mass=probabilities.class_mass if probabilities else None,
        floored=probabilities.floored if probabilities else [],
    )


@dataclass
class ChatLogprobs:
    """Chat logprobs (`{"content": [{token, logprob, top_logprobs: [...]}]}`) as token lists."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> ChatLogprobs | None:
        """None when the answer carries no logprobs."""
        content = (raw or {}).get("content") or []
        if not content:
            return None
        return cls(
            tokens=[item["token"] for item in content],
            token_logprobs=[item.get("logprob") for item in content],
            top_logprobs=[
                {alt["token"]: alt["logprob"] for alt in item.get("top_logprobs") or []}
                for item in content
            ],
        )
