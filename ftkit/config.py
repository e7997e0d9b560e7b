"""The experiment config: one pydantic model tree, loaded from YAML, with `key=value` overrides.

The models are the schema: defaults live here and nowhere else. Unknown keys are errors, so a
typo fails loudly. Relative paths written in a YAML file are relative to that file; relative
paths given as command-line overrides are relative to the working directory.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ftkit.errors import ConfigError
from ftkit.sweeps.space import Distribution

ProviderKind = Literal["local", "openai", "azure", "compatible"]
Dialect = Literal["legacy", "jobs"]
DataFormat = Literal["auto", "jsonl", "csv", "tsv", "json"]
FixName = Literal[
    "drop-invalid",
    "drop-duplicates",
    "drop-long",
    "add-separator",
    "add-ending",
    "add-space",
    "strip-prompt-prefix",
    "strip-completion-prefix",
    "lowercase",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProviderConfig(_Section):
    """Where fine-tuning happens and how to talk to it."""

    kind: ProviderKind = Field(
        "local", description="local = the embedded backend started in-process; or a hosted API."
    )
    base_url: str | None = Field(
        None,
        description="API base URL ending in /v1. Default: openai → https://api.openai.com/v1; "
        "local → the in-process backend; azure and compatible need it.",
    )
    dialect: Dialect = Field(
        "jobs", description="jobs = /v1/fine_tuning/jobs; legacy = /v1/fine-tunes."
    )
    api_key_env: str | None = Field(
        None,
        description="Name of the environment variable holding the API key (never the key "
        "itself). Default: OPENAI_API_KEY for openai, AZURE_OPENAI_API_KEY for azure.",
    )
    api_version: str | None = Field(None, description="Azure only: the api-version query value.")
    organization: str | None = Field(None, description="OpenAI-Organization header, if any.")
    timeout_s: float = Field(600.0, gt=0, description="Read timeout per request, seconds.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Connect timeout, seconds.")
    max_retries: int = Field(2, ge=0, le=20, description="Retries of transient failures.")
    max_concurrent_jobs: int | None = Field(
        None,
        ge=1,
        description="Jobs the provider runs at once for you: a Prefect global concurrency limit "
        "every run (and worker) waits on, instead of failing on 429.",
    )

    @field_validator("api_key_env")
    @classmethod
    def _looks_like_a_variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            msg = "must be the name of an environment variable (e.g. OPENAI_API_KEY), not a key"
            raise ValueError(msg)
        return value


class ColumnMapping(_Section):
    """Which input columns (CSV/TSV/JSON array) hold the prompt and the completion."""

    prompt: str = "prompt"
    completion: str = "completion"


class SplitConfig(_Section):
    """Fractions of the examples per split; they must add up to 1."""

    train: float = Field(0.8, gt=0, le=1)
    validation: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = Field(42, description="Seed of the deterministic split.")
    stratify: bool | Literal["auto"] = Field(
        "auto", description="Stratify by label; auto = when the data is classification-style."
    )

    def model_post_init(self, __context: Any) -> None:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            msg = f"split fractions must add up to 1, got {total:g}"
            raise ValueError(msg)


class ChecksConfig(_Section):
    """Data checks: thresholds and which findings to silence."""

    disable: list[str] = Field(default_factory=list, description="Finding codes to skip.")
    min_examples: int = Field(10, ge=1, description="Fewer examples is an error.")
    recommended_examples: int = Field(100, ge=1, description="Fewer examples is a warning.")
    max_listed_lines: int = Field(20, ge=1, description="Line numbers shown per finding.")
    count_tokens: bool = Field(True, description="Exact token counts (slower) and a cost estimate.")


class ModerationConfig(_Section):
    """Screen every training/validation example with the provider's /v1/moderations."""

    on_flagged: Literal["fail", "drop", "warn"] = Field(
        "fail",
        description="fail: stop before upload; drop: upload without flagged examples "
        "(kept in prepared/flagged-<split>.jsonl); warn: upload all, list them.",
    )
    model: str = Field("omni-moderation-latest", description="Moderation model to ask.")
    batch_size: int = Field(32, ge=1, le=1000, description="Examples per request.")


class DataConfig(_Section):
    """The dataset and how to prepare it."""

    source: Path = Field(..., description="Training data: JSONL, CSV, TSV or a JSON array.")
    validation_source: Path | None = Field(
        None, description="A separate validation file; then only train/test are split."
    )
    format: DataFormat = Field("auto", description="auto = from the file extension.")
    columns: ColumnMapping = Field(default_factory=ColumnMapping)
    split: SplitConfig = Field(default_factory=SplitConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    fixes: list[FixName] = Field(default_factory=list, description="Opt-in fixes, in order.")
    moderation: ModerationConfig | None = Field(
        None, description="Optional moderation pre-screen between prepare and upload."
    )
    prices_per_1k_tokens: dict[str, float] = Field(
        default_factory=dict,
        description="Training price per 1K tokens by model, overriding the built-in table.",
    )


class Hyperparameters(_Section):
    """Training hyperparameters; unset values are left to the provider (`auto`)."""

    n_epochs: int | None = Field(None, ge=1, le=50)
    batch_size: int | None = Field(None, ge=1, le=256)
    learning_rate_multiplier: float | None = Field(None, gt=0)
    prompt_loss_weight: float | None = Field(None, ge=0, description="Legacy dialect only.")


class ClassificationConfig(_Section):
    """Server-side classification metrics (legacy dialect)."""

    compute_metrics: bool = False
    n_classes: int | None = Field(None, ge=2)
    positive_class: str | None = None
    betas: list[Annotated[float, Field(gt=0)]] | None = None


class JobConfig(_Section):
    """The fine-tune job to create."""

    model: str = Field("babbage-002", description="Base model (or a fine-tuned one to continue).")
    suffix: str | None = Field(None, min_length=1, max_length=40)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    classification: ClassificationConfig = Field(default_factory=ClassificationConfig)
    seed: int | None = Field(None, ge=0, le=2_147_483_647)
    metadata: dict[str, str] = Field(default_factory=dict, description="Up to 16 string pairs.")
    poll_interval_s: float = Field(1.0, gt=0, description="First poll interval while following.")
    max_poll_interval_s: float = Field(30.0, gt=0, description="Poll back-off ceiling.")
    timeout_s: float | None = Field(
        None, gt=0, description="Give up following after this long (the job keeps running)."
    )
    follow: Literal["wait", "detach"] = Field(
        "wait",
        description="wait = the pipeline follows the job to its end; detach = it ends once the "
        "job exists and the scheduled watch flow (`ftkit watch`) carries the run on.",
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 16:
            msg = f"at most 16 metadata pairs are allowed, got {len(value)}"
            raise ValueError(msg)
        for key, item in value.items():
            if len(key) > 64 or len(item) > 512:
                msg = f"metadata key {key!r}: keys ≤ 64 and values ≤ 512 characters"
                raise ValueError(msg)
        return value


class GateConfig(_Section):
    """When a run becomes the experiment's champion."""

    metric: str = Field("f1_macro", description="A metric name from the report.")
    min: float | None = Field(None, description="The metric must reach at least this.")
    beat_champion: bool = Field(True, description="The metric must beat the current champion.")


class EvaluateConfig(_Section):
    """Held-out evaluation of the fine-tuned model."""

    enabled: bool = True
    split: Literal["auto", "test", "validation"] = Field(
        "auto", description="auto = test if present, else validation."
    )
    baseline: str | None = Field(
        "base",
        description="base = the base model; champion = the experiment's champion; "
        "a model name; or null to skip.",
    )
    concurrency: int = Field(8, ge=1, le=256, description="Requests in flight at once.")
    batch_size: int = Field(50, ge=1, le=2048, description="Prompts per completions request.")
    max_tokens: int | None = Field(None, ge=1, description="Default: derived from the data.")
    logprobs: int = Field(5, ge=0, le=5)
    gate: GateConfig | None = None


class ScheduleConfig(_Section):
    """A Prefect deployment schedule for recurring runs: a cron expression, an interval, or both."""

    cron: str | None = Field(None, description="Cron expression, e.g. '0 3 * * *'.")
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in.")
    interval_s: float | None = Field(None, gt=0, description="Run every this many seconds.")
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            raise ValueError(msg) from None
        return value


class SweepConfig(_Section):
    """The trials of an experiment: how they are drawn, ranked, paid for and run."""

    method: Literal["grid", "random"] = Field(
        "grid", description="grid = every combination; random = `trials` draws with `seed`."
    )
    parameters: dict[str, Distribution] = Field(
        default_factory=dict,
        description="Dotted key → a list of values, or {distribution: choice|uniform|"
        "log_uniform|int_uniform, values | low, high}.",
    )
    coupled: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Settings that vary together: a list of {dotted key: value} dicts, each one "
        "option (like Axolotl's `_:` lists).",
    )
    trials: int | None = Field(None, ge=1, le=1000, description="random: how many trials.")
    seed: int = Field(0, description="random: seed of the draws.")
    metric: str = Field(
        "valid_loss",
        description="Ranking metric on the validation split: a results-file metric "
        "(valid_loss, valid_accuracy) or a held-out one (f1_macro, accuracy, ...).",
    )
    goal: Literal["minimize", "maximize"] | None = Field(
        None, description="Default: minimize losses and error rates, maximize the rest."
    )
    budget_usd: float | None = Field(
        None, gt=0, description="Refuse to start when the trials' summed cost estimate is above."
    )
    max_parallel: int = Field(2, ge=1, description="Trials running at once.")
    pool: str | None = Field(
        None,
        description="Run the trials as deployment runs on this Prefect work pool, spread over "
        "its workers (needs PREFECT_API_URL); default: subflows of the sweep's own process.",
    )

    @model_validator(mode="after")
    def _method_fits(self) -> SweepConfig:
        if self.method == "grid":
            continuous = [k for k, d in self.parameters.items() if not d.is_choice]
            if continuous:
                msg = (
                    f"grid sweeps need value lists; use method: random for {', '.join(continuous)}"
                )
                raise ValueError(msg)
            if self.trials is not None:
                msg = "trials is for method: random (a grid runs every combination)"
                raise ValueError(msg)
        elif self.trials is None:
            msg = "method: random needs `trials` (how many to draw)"
            raise ValueError(msg)
        if self.metric.startswith(("train_", "test_")):
            msg = f"metric {self.metric!r}: trials are ranked on the validation split (e.g. valid_loss)"
            raise ValueError(msg)
        both = set(self.parameters) & {key for option in self.coupled for key in option}
        if both:
            msg = f"{', '.join(sorted(both))}: set both in parameters and in coupled"
            raise ValueError(msg)
        return self


class ReportConfig(_Section):
    """Where the report link in the Prefect UI points."""

    base_url: str | None = Field(
        None,
        description="URL of `ftkit reports serve` (serving runs_dir); default: the "
        "FTKIT_REPORTS_URL environment variable, else a file:// link.",
    )


class ExperimentConfig(_Section):
    """One experiment: data, provider, job, evaluation, and when to run it."""

    name: str = Field(
        ..., pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Slug of the run folder."
    )
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    data: DataConfig
    job: JobConfig = Field(default_factory=JobConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    runs_dir: Path = Field(Path("runs"), description="Where run folders go.")


_PATH_KEYS = ("data.source", "data.validation_source", "runs_dir")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Load an experiment config from YAML and apply dotted `key=value` overrides.

    Raises ConfigError naming the file and every offending key path.
    """
    import yaml  # on use: commands run without a config file start faster

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: config file not found."
        raise ConfigError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the config file ({exc})."
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{path}:{where}: not valid YAML ({problem})."
        raise ConfigError(msg) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        msg = f"{path}: the config must be a mapping of sections, got {type(raw).__name__}."
        raise ConfigError(msg)
    _resolve_paths(raw, path.parent)
    _apply_overrides(raw, overrides)
    return validate_config(raw, source=str(path))


def resolve_config(
    config: ExperimentConfig | dict[str, Any] | str | Path, overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """The config a deployment's parameters name: a YAML path, or the config itself, with
    `key=value` overrides applied on top."""
    if isinstance(config, str | Path):
        return load_config(config, overrides)
    if isinstance(config, ExperimentConfig):
        if not overrides:
            return config
        config = config.model_dump(mode="json")
    raw = copy.deepcopy(config)
    _apply_overrides(raw, overrides)
    return validate_config(raw, source="the config parameter")


def absolute_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides with relative paths made absolute (for a process in another directory)."""
    resolved = []
    for override in overrides:
        key, value = parse_override(override)
        if key in _PATH_KEYS and isinstance(value, str):
            override = f"{key}={Path(value).expanduser().resolve()}"
        resolved.append(override)
    return resolved


def _apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> None:
    for override in overrides:
        key, value = parse_override(override)
        if key in _PATH_KEYS and value is not None:
            value = str(Path(value).expanduser().resolve())
        set_dotted(raw, key, value, source=f"override {override!r}")


def validate_config(raw: dict[str, Any], *, source: str) -> ExperimentConfig:
    """Validate a raw mapping; every problem is listed with its key path."""
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling; see `ftkit config schema`)"
            elif error["type"] == "missing":
                message = "required key is missing"
            lines.append(f"  {where}: {message}")
        plural = "s" if len(lines) > 1 else ""
        msg = f"{source}: invalid config ({len(lines)} problem{plural}):\n" + "\n".join(lines)
        raise ConfigError(msg) from None


def parse_override(text: str) -> tuple[str, Any]:
    """Split `a.b.c=value`; the value is parsed as YAML so `2`, `0.1`, `true`, `[1,2]` work."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*", key):
        msg = f"override {text!r} must look like key.path=value (e.g. job.hyperparameters.n_epochs=2)."
        raise ConfigError(msg)
    import yaml

    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key, parsed


def set_dotted(raw: dict[str, Any], key: str, value: Any, *, source: str) -> None:
    """Set `raw[a][b][c] = value` for key `a.b.c`, creating sections as needed."""
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            msg = f"{source}: {where} is a value, not a section."
            raise ConfigError(msg)
        node = child
    node[parts[-1]] = value


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    for dotted in _PATH_KEYS:
        node: Any = raw
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(parts[-1]), str):
            node[parts[-1]] = str((base / Path(node[parts[-1]]).expanduser()).resolve())
