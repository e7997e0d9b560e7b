"""`ftkit runs list|show`: what ran, from the run index and the run folders (no API calls)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, RunsConfigOpt, RunsDirOpt, print_json

runs_app = typer.Typer(help="List and inspect runs (from runs/index.jsonl).", no_args_is_help=True)


@runs_app.command("list")
def list_runs(
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment.")
    ] = None,
    output: FormatOpt = OutputFormat.text,
    runs_dir: RunsDirOpt = None,
    config: RunsConfigOpt = None,
) -> None:
    """List runs, oldest first, with status, model and headline metrics.

    Example: ftkit runs list -e support-tickets --format json
    """
    from ftkit.runs import RunIndex
    from ftkit.runs.locate import locate_runs_dir

    runs_dir = locate_runs_dir(runs_dir, config)
    entries = [e for e in RunIndex(runs_dir).entries() if experiment in (None, e.experiment)]
    if output is OutputFormat.json:
        print_json(entries)
        return
    if not entries:
        typer.echo(f"no runs in {runs_dir}")
        return
    typer.echo(f"{'RUN':<12}  {'EXPERIMENT':<24}  {'STATUS':<10}  {'CREATED':<25}  MODEL / METRICS")
    for e in entries:
        metric = _headline(e.metrics)
        model = e.fine_tuned_model or e.base_model
        typer.echo(
            f"{e.run_id:<12}  {e.experiment:<24}  {e.status:<10}  {e.created_at:<25}  "
            f"{model}{'  ' + metric if metric else ''}{_swept(e.swept)}"
        )


@runs_app.command("show")
def show_run(
    run_ref: Annotated[str, typer.Argument(help="Run id (prefix), experiment/run-id or folder.")],
    output: FormatOpt = OutputFormat.text,
    runs_dir: RunsDirOpt = None,
    config: RunsConfigOpt = None,
) -> None:
    """Show one run: state, job, model, metrics, timings and its files.

    Example: ftkit runs show 3f2a9c
    """
    from ftkit.runs import RunFolder
    from ftkit.runs.locate import locate_runs_dir

    folder = RunFolder.open(run_ref, locate_runs_dir(runs_dir, config))
    state = folder.load_state()
    files = sorted(str(p.relative_to(folder.path)) for p in folder.path.rglob("*") if p.is_file())
    if output is OutputFormat.json:
        print_json(
            {"path": str(folder.path), "state": state.model_dump(mode="json"), "files": files}
        )
        return
    rows: list[tuple[str, str]] = [
        ("run", f"{state.experiment}/{state.run_id}  ({state.status}, stage {state.stage})"),
        ("folder", str(folder.path)),
        ("run key", state.run_key),
        ("config", state.config_hash),
        ("job", state.job_id or "-"),
        ("model", f"{state.base_model} → {state.fine_tuned_model or '-'}"),
        ("created", f"{state.created_at}  finished {state.finished_at or '-'}"),
        ("attempts", str(state.attempts)),
    ]
    if state.error is not None:
        rows.append(("error", f"{state.error.code}: {state.error.message}"))
    for name, value in sorted(state.metrics.items()):
        rows.append((name, "-" if value is None else f"{value:.4g}"))
    for stage, seconds in state.timings.items():
        rows.append((f"time {stage}", f"{seconds:.2f} s"))
    rows.append(("files", ", ".join(files)))
    for name, text in rows:
        typer.echo(f"{name:<16} {text}")


def _swept(swept: dict[str, Any]) -> str:
    """A sweep trial's values, e.g. `  [n_epochs=2 learning_rate_multiplier=0.05]`."""
    if not swept:
        return ""
    from ftkit.sweeps.search import short_names

    names = short_names(list(swept))
    return "  [" + " ".join(f"{names[key]}={value}" for key, value in swept.items()) + "]"


def _headline(metrics: dict[str, float | None]) -> str:
    for name in ("f1_macro", "accuracy", "valid_accuracy", "train_loss"):
        if metrics.get(name) is not None:
            return f"{name}={metrics[name]:.4g}"
    return ""


def register(app: typer.Typer) -> None:
    """Add `ftkit runs` to the ftkit app."""
    app.add_typer(runs_app, name="runs")
