"""`ftkit run` and `ftkit follow`: run the fine-tuning pipeline flow from the command line.

Exit codes: 0 succeeded (or up to date), 1 the job or the provider failed, 2 a config or data
error, 3 cancelled.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, OverridesArg, print_json
from ftkit.cli.progress import showing_progress
from ftkit.config import ExperimentConfig, load_config
from ftkit.errors import ConfigError, DataError, FtkitError, JobCancelledError

ConfigArg = Annotated[Path, typer.Argument(help="Experiment config (YAML).")]
RunArg = Annotated[
    str, typer.Argument(help="Run id (or a unique prefix), experiment/run-id, or run folder.")
]
RunsDirOpt = Annotated[Path, typer.Option("--runs-dir", help="Where the run index lives.")]
DetachOpt = Annotated[
    bool, typer.Option("--detach", help="Return once the job is created; `ftkit follow` later.")
]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", help="Print Prefect's log lines instead of the progress display."),
]
OverBudgetOpt = Annotated[
    bool, typer.Option("--over-budget", help="Start a sweep even above sweep.budget_usd.")
]

HEADLINE = (
    "accuracy",
    "f1_macro",
    "log_loss",
    "exact_match",
    "token_f1",
    "train_loss",
    "valid_loss",
)
"""Metrics printed after a run (when present); `ftkit runs show` lists them all."""

PREFECT_CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"

# The machine may be offline: no telemetry from the Prefect client or its ephemeral server.
PREFECT_DEFAULTS = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def run(
    config: ConfigArg,
    overrides: OverridesArg = None,
    output: FormatOpt = OutputFormat.text,
    detach: DetachOpt = False,
    over_budget: OverBudgetOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run the pipeline: prepare, upload, train, follow, evaluate and report.

    A re-run of the same config and data re-attaches to its job (or says it is up to date).
    A config with a sweep runs every trial and prints the leaderboard.

    Example: ftkit run configs/quickstart.yaml job.hyperparameters.n_epochs=2
    """
    resolved = load_config(config, overrides or [])
    if resolved.sweep.parameters or resolved.sweep.coupled:
        from ftkit.cli.sweeps import run_sweep

        if detach:
            msg = "--detach is for one run; a sweep waits for its trials to rank them."
            raise ConfigError(msg)
        run_sweep(resolved, output, over_budget=over_budget)
    _run_and_exit(resolved, output, detach=detach, verbose=verbose)


def follow(
    run_ref: RunArg,
    output: FormatOpt = OutputFormat.text,
    runs_dir: RunsDirOpt = Path("runs"),
    verbose: VerboseOpt = False,
) -> None:
    """Re-attach to a run (e.g. one started with --detach) and carry it to the end.

    Example: ftkit follow 3f2a9c
    """
    from ftkit.runs import RunFolder

    folder = RunFolder.open(run_ref, runs_dir)
    _run_and_exit(folder.load_config(), output, detach=False, verbose=verbose)


def deploy(config: ConfigArg, overrides: OverridesArg = None) -> None:
    """Serve a Prefect deployment of this config on its schedule (needs PREFECT_API_URL).

    Example: ftkit deploy configs/scheduled.yaml
    """
    resolved = load_config(config, overrides or [])
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from flows.deploy import serve_config

    serve_config(resolved)


def _run_and_exit(
    config: ExperimentConfig, output: OutputFormat, *, detach: bool, verbose: bool = False
) -> None:
    from ftkit.runs import RunFolder

    folder = RunFolder.for_config(config)
    if folder.is_up_to_date(config):
        # nothing to do: answer from the run folder without starting Prefect
        _print_outcome(folder.outcome(up_to_date=True), output, detach=detach)
        raise typer.Exit(0)
    import asyncio  # with Prefect, on use: other commands start faster

    run = [(folder.path, f"{config.name}/{folder.path.name}")]
    with (
        prefect_and_api(config, quiet=not verbose) as base_url,
        nullcontext() if verbose else showing_progress(run),
    ):
        outcome, exit_code = asyncio.run(_run_one(config, base_url, detach=detach))
    _print_outcome(outcome, output, detach=detach)
    raise typer.Exit(exit_code)


@contextmanager
def prefect_and_api(config: ExperimentConfig, *, quiet: bool = False) -> Iterator[str | None]:
    """Check the providers' keys, start Prefect's API and the embedded backend (if used), and
    yield the API base URL while flows run; ftkit's errors are logged without tracebacks.

    quiet: Prefect prints nothing on the console (a progress display shows instead); the
    Prefect UI still gets every log line. Set before Prefect is imported, which reads it then.
    """
    from ftkit.api import Client
    from ftkit.runs.endpoint import api_base_url

    if config.provider.kind != "local":
        Client(config.provider).close()  # a missing key or URL fails here, before Prefect
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    with _environ(PREFECT_CONSOLE_LEVEL, "CRITICAL") if quiet else nullcontext():
        from flows.ephemeral import EphemeralAPI

        prefect_api = EphemeralAPI().start_in_background()
        with _ftkit_errors_without_tracebacks(), api_base_url(config) as base_url:
            prefect_api.wait()
            yield base_url


async def _run_one(
    config: ExperimentConfig, base_url: str | None, *, detach: bool
) -> tuple[Any, int]:
    """Run the flow for one config; the outcome (from the run folder) and the exit code."""
    from flows.pipeline import fine_tune_pipeline
    from ftkit.runs import RunFolder

    state = await fine_tune_pipeline(config, detach=detach, base_url=base_url, return_state=True)
    if state.is_completed():
        return await state.aresult(), 0
    folder = RunFolder.for_config(config)
    if state.is_cancelled():
        return folder.outcome(), JobCancelledError.exit_code
    error = await state.aresult(raise_on_failure=False)
    if not isinstance(error, FtkitError):
        raise error if isinstance(error, BaseException) else RuntimeError(state.message)
    outcome = folder.outcome()
    if outcome.state.error is None or outcome.state.error.message != str(error):
        typer.echo(f"error: {error}", err=True)  # not in run.json, so the outcome won't say it
    code = 2 if isinstance(error, DataError) else error.exit_code
    return outcome, code


def _print_outcome(outcome: Any, output: OutputFormat, *, detach: bool) -> None:
    error = outcome.state.error
    if error is not None and outcome.state.status != "running":
        typer.echo(f"error: {_error_text(error)}", err=True)  # once, on stderr
    if output is OutputFormat.json:
        print_json(outcome)
        return
    state = outcome.state
    status = "up to date" if outcome.up_to_date else state.status
    typer.echo(f"run      {outcome.path}  ({status})")
    if state.job_id:
        typer.echo(f"job      {state.job_id}")
    if state.fine_tuned_model:
        typer.echo(f"model    {state.fine_tuned_model}")
    headline = [(k, state.metrics[k]) for k in HEADLINE if state.metrics.get(k) is not None]
    if headline:
        typer.echo("metrics  " + "  ".join(f"{k}={v:.4g}" for k, v in headline))
    report = Path(outcome.path) / "report.html"
    if not report.is_file():
        report = Path(outcome.path) / "report.md"
    if report.is_file():
        typer.echo(f"report   {report}")
    if state.status == "failed" and state.job_id:
        typer.echo(
            "hint     one run key, one job: re-running this config reports the same failed job; "
            "change the config or data (e.g. job.seed=...) to train a new one"
        )
    if detach and state.status == "running":
        typer.echo(f"follow   ftkit follow {state.run_id}")
        if _uses_embedded_backend(Path(outcome.path)):
            typer.echo(
                "note     the embedded backend stopped with this command; the job trains on "
                "when `ftkit follow` (or `ftkit serve`) starts it again"
            )


def _error_text(error: Any) -> str:
    """A run's error in one line: its message, with its code when the message lacks it."""
    if error.code and error.code not in error.message:
        return f"{error.message} [{error.code}]"
    return str(error.message)


def _uses_embedded_backend(run_dir: Path) -> bool:
    """Whether a run uses the embedded backend started in-process (local, no base_url)."""
    from ftkit.runs import RunFolder

    provider = RunFolder(run_dir).load_config().provider
    return provider.kind == "local" and not provider.base_url


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """`name` set to `value` (unless the user set it) for the duration, then as it was."""
    before = os.environ.get(name)
    os.environ.setdefault(name, value)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)


@contextmanager
def _ftkit_errors_without_tracebacks() -> Iterator[None]:
    """While running flows, log ftkit's own errors (provider, data, config) without tracebacks.

    Prefect logs a failing task or flow with `logger.exception`; for an FtkitError the message
    already says what happened and what to do, so the traceback is noise on the console.
    Prefect reconfigures its handlers while it starts, so this works at record creation (the
    flow run's logs in the UI then carry the message alone).
    """
    make_record = logging.getLogRecordFactory()

    def without_ftkit_traceback(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.exc_info and isinstance(record.exc_info[1], FtkitError):
            record.exc_info = None
        return record

    logging.setLogRecordFactory(without_ftkit_traceback)
    try:
        yield
    finally:
        logging.setLogRecordFactory(make_record)


def register(app: typer.Typer) -> None:
    """Add `ftkit run`, `ftkit follow` and `ftkit deploy` to the ftkit app."""
    app.command("run")(run)
    app.command("follow")(follow)
    app.command("deploy")(deploy)
