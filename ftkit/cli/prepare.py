"""`ftkit prepare`: check, fix, split and token-count a dataset."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, OverridesArg, print_json

if TYPE_CHECKING:
    from ftkit.config import ExperimentConfig
    from ftkit.data.models import Finding, PreparedData


def prepare(
    data: Annotated[
        str | None,
        typer.Argument(help="Dataset: JSONL, CSV, TSV or a JSON array (default: data.source)."),
    ] = None,
    overrides: OverridesArg = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Experiment config (YAML).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Target model (default: job.model).")
    ] = None,
    fix: Annotated[
        str | None,
        typer.Option(
            "--fix",
            help="Comma-separated fixes: drop-invalid, drop-duplicates, drop-long, add-separator, "
            "add-ending, add-space, strip-prompt-prefix, strip-completion-prefix, lowercase.",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="train,validation[,test] fractions, e.g. 0.8,0.1,0.1."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the split.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("prepared"),
    no_tokens: Annotated[
        bool, typer.Option("--no-tokens", help="Skip exact token counting (faster, no cost).")
    ] = False,
    output: FormatOpt = OutputFormat.text,
) -> None:
    """Check a dataset, apply opt-in fixes, split it and count its tokens.

    Writes OUT/train.jsonl, valid.jsonl, test.jsonl and validation.json. Exit status: 0 when no
    error remains, 1 when errors remain, 2 on usage errors.

    Example: ftkit prepare data.jsonl --fix drop-invalid,add-separator --split 0.8,0.1,0.1
    """
    from ftkit.data.models import DataValidationError
    from ftkit.data.prepare import prepare_dataset

    overrides = list(overrides or [])
    if data is not None and "=" in data and not Path(data).exists():
        overrides.insert(0, data)  # `ftkit prepare -c x.yaml key=value`: no DATA given
        data = None
    experiment = _experiment(data, config, overrides)
    settings = experiment.data
    updates: dict[str, Any] = {}
    if fix is not None:
        updates["fixes"] = _fixes(fix)
    if no_tokens:
        updates["checks"] = settings.checks.model_copy(update={"count_tokens": False})
    if split is not None or seed is not None:
        updates["split"] = _split(settings.split, split, seed)
    settings = settings.model_validate({**settings.model_dump(), **updates})
    target = model or experiment.job.model
    try:
        prepared = prepare_dataset(
            settings,
            target,
            out,
            n_epochs=experiment.job.hyperparameters.n_epochs,
            # with no config and no --model the model is only a default: nothing to check
            dialect=experiment.provider.dialect if config or model else None,
        )
        failed = False
    except DataValidationError as exc:
        prepared, failed = exc.prepared, True
    if output is OutputFormat.json:
        print_json(prepared)
    else:
        typer.echo(summary(prepared, config))
    if failed:
        remain = "errors remain" if prepared.errors > 1 else "error remains"
        typer.echo(f"error: {prepared.errors} {remain}; see above.", err=True)
        raise typer.Exit(1)


def _experiment(data: str | None, config: Path | None, overrides: list[str]) -> ExperimentConfig:
    from ftkit.config import load_config, parse_override, set_dotted, validate_config

    if config is not None:
        if data is not None:
            overrides = [*overrides, f"data.source={Path(data).resolve()}"]
        return load_config(config, overrides)
    if data is None:
        raise typer.BadParameter("give a DATA file or --config", param_hint="DATA")
    raw: dict[str, Any] = {"name": "prepare", "data": {"source": data}}
    for override in overrides:
        key, value = parse_override(override)
        set_dotted(raw, key, value, source=f"override {override!r}")
    return validate_config(raw, source="command line")


def _fixes(text: str) -> list[str]:
    from ftkit.data.prepare import FIX_NAMES

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FIX_NAMES]
    if unknown:
        raise typer.BadParameter(
            f"unknown fix {', '.join(unknown)}; choose from {', '.join(FIX_NAMES)}",
            param_hint="--fix",
        )
    return names


def _split(current: Any, text: str | None, seed: int | None) -> Any:
    from pydantic import ValidationError

    values = current.model_dump()
    if text is not None:
        try:
            fractions = [float(part) for part in text.split(",")]
        except ValueError:
            fractions = []
        if len(fractions) not in (2, 3):
            raise typer.BadParameter(
                "expected 2 or 3 fractions, e.g. 0.8,0.1,0.1", param_hint="--split"
            )
        fractions += [0.0] * (3 - len(fractions))
        values.update(zip(("train", "validation", "test"), fractions, strict=True))
    if seed is not None:
        values["seed"] = seed
    try:
        return type(current).model_validate(values)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise typer.BadParameter(problem, param_hint="--split") from None


def summary(prepared: PreparedData, config: Path | None = None) -> str:
    """A short report for people: findings by severity with lines, splits, tokens, cost, next."""
    from ftkit.data.models import counted

    lines = [
        f"{prepared.source}: {counted(prepared.examples, 'example')} in "
        f"{counted(prepared.lines, 'line')} "
        f"({prepared.format.replace('_', '/')}, {prepared.task_type.replace('_', ' ')}) "
        f"for {prepared.model}"
    ]
    for severity in ("error", "warning", "info"):
        found = [f for f in prepared.findings if f.severity == severity]
        if found:
            lines.append(f"{severity}s:" if severity != "info" else "info:")
            lines += [_finding_line(f) for f in found]
    if prepared.fixes_applied:
        done = ", ".join(f"{fix.name} ({fix.count})" for fix in prepared.fixes_applied)
        lines.append(f"fixes applied: {done}")
    if prepared.splits:
        parts = []
        for name, info in prepared.splits.items():
            tokens = f", {info.tokens:,} tokens" if info.tokens is not None else ""
            parts.append(f"{name} {info.examples}{tokens}")
        lines.append(f"splits: {'; '.join(parts)} → {prepared.out_dir}/")
    else:
        lines.append(f"nothing written but {Path(prepared.out_dir) / 'validation.json'}")
    if prepared.classes:
        shown = ", ".join(f"{label!r} {n}" for label, n in list(prepared.label_counts.items())[:8])
        lines.append(f"classes: {shown}")
    stats = prepared.tokens
    if stats.counted:
        lines.append(
            f"tokens ({stats.encoding}): {stats.billed_per_epoch:,} billed per epoch; longest "
            f"example {stats.max_example:,} of {stats.context_limit:,}; longest completion "
            f"{prepared.max_completion_tokens:,} (a max_tokens for inference)"
        )
    cost = prepared.cost
    money = f"${cost.usd:,.4f}" if cost.usd is not None else "unknown"
    lines.append(f"cost estimate: {money} ({cost.note})")
    lines.append(f"next: {_next_command(prepared, config)}")
    return "\n".join(lines)


def _finding_line(finding: Finding) -> str:
    where = ""
    if finding.lines:
        shown = ", ".join(map(str, finding.lines))
        more = f" … ({finding.count} in all)" if finding.count > len(finding.lines) else ""
        where = f" [lines {shown}{more}]"
    fixed = f" (fixed: {finding.fixed_by})" if finding.fixed_by else ""
    return f"  {finding.code}{where}{fixed}: {finding.message}"


def _next_command(prepared: PreparedData, config: Path | None) -> str:
    wanted: list[str] = []
    unfixable = False
    for finding in prepared.findings:
        if finding.fixed_by is None and finding.severity != "info":
            fixes = re.findall(r"--fix ([a-z-]+)", finding.message)
            unfixable = unfixable or (finding.severity == "error" and not fixes)
            wanted += [f for f in fixes if f not in wanted]
    if prepared.errors:
        if wanted and not unfixable:
            return f"ftkit prepare {prepared.source} --fix {','.join(wanted)}"
        return "correct the errors above in the source file, then run ftkit prepare again"
    if config is not None:
        return f"ftkit run {config}"
    return (
        f"ftkit files upload {prepared.splits['train'].path}" if "train" in prepared.splits else ""
    )


def register(app: typer.Typer) -> None:
    """Add `ftkit prepare` to the ftkit app."""
    app.command("prepare")(prepare)
