"""`ftkit run` and `ftkit follow`: run the fine-tuning pipeline flow from the command line.

Exit codes: 0 succeeded (or up to date), 1 the job or the provider failed, 2 a config or data
error, 3 cancelled, 143 stopped by SIGTERM (run.json `interrupted`; a re-run re-attaches).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, OverridesArg, RunsDirOpt, print_json
from ftkit.cli.progress import showing_progress
from ftkit.config import ExperimentConfig, load_config
from ftkit.errors import ConfigError, DataError, FtkitError, JobCancelledError

ConfigArg = Annotated[Path, typer.Argument(help="Experiment config (YAML).")]
RunArg = Annotated[
    str, typer.Argument(help="Run id (or a unique prefix), experiment/run-id, or run folder.")
]
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

# The machine may be offline: no telemetry from the Prefect client or its local server.
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
        run_sweep(config, overrides or [], resolved, output, over_budget=over_budget)
    _run_and_exit(
        resolved, output, detach=detach or resolved.job.follow == "detach", verbose=verbose
    )


def follow(
    run_ref: RunArg,
    output: FormatOpt = OutputFormat.text,
    runs_dir: RunsDirOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Re-attach to a run (e.g. one started with --detach) and carry it to the end.

    Example: ftkit follow 3f2a9c
    """
    from ftkit.runs import RunFolder
    from ftkit.runs.locate import locate_runs_dir

    folder = RunFolder.open(run_ref, locate_runs_dir(runs_dir))
    _run_and_exit(folder.load_config(), output, detach=False, verbose=verbose)


def _run_and_exit(
    config: ExperimentConfig, output: OutputFormat, *, detach: bool, verbose: bool = False
) -> None:
    from ftkit.runs import RunFolder
    from ftkit.runs.locate import remember_runs_dir
    from ftkit.runs.preflight import preflight

    preflight(config)  # data files, provider URL and key: fail before Prefect starts
    folder = RunFolder.for_config(config)
    remember_runs_dir(folder.runs_dir)  # `ftkit runs list` finds it from anywhere
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
    """Check the data and the provider, point Prefect at the shared local server (or
    PREFECT_API_URL), start the embedded backend (if used), and yield the API base URL while
    flows run; ftkit's errors are logged without tracebacks; SIGTERM exits 143, the run
    `interrupted`. quiet: Prefect prints nothing on the console (a progress display shows
    instead; the Prefect UI still gets every log line), set before Prefect is imported."""
    from ftkit.gc_pause import imports_without_gc
    from ftkit.runs.endpoint import (
        api_base_url,
        start_embedded_backend_workers,
        uses_embedded_backend,
    )
    from ftkit.runs.preflight import preflight

    preflight(config)  # before Prefect starts: a missing file, URL or key fails in < 1 s
    start_embedded_backend_workers(config.provider)  # they load while Prefect does
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    console_level = os.environ.get(PREFECT_CONSOLE_LEVEL)
    if quiet and console_level is None:
        os.environ[PREFECT_CONSOLE_LEVEL] = "CRITICAL"
    with imports_without_gc():  # what runs load: Prefect, the flows, the embedded backend
        from prefect.exceptions import TerminationSignal

        import flows.pipeline  # noqa: F401
        from flows.shared_server import SharedPrefectServer

        if uses_embedded_backend(config.provider):
            import ftkit.backend.app  # noqa: F401

    signal.signal(signal.SIGTERM, _raise_terminated)
    prefect_api = SharedPrefectServer().start()  # reused if running; boots meanwhile otherwise
    try:
        with (
            _ftkit_errors_without_tracebacks(),
            api_base_url(config) as base_url,
            prefect_api.in_use(),
        ):
            yield base_url
    except (Terminated, TerminationSignal):
        typer.echo(
            "interrupted: the remote job was left as it was; "
            "run the same command again to re-attach",
            err=True,
        )
        raise typer.Exit(Terminated.exit_code) from None
    finally:
        prefect_api.close()
        if console_level is None:
            os.environ.pop(PREFECT_CONSOLE_LEVEL, None)


class Terminated(BaseException):
    """SIGTERM reached `ftkit run`: stop cleanly (run.json `interrupted`), leave the job be.

    Outside a flow run this handler raises it; during one, Prefect turns the signal into its
    own TerminationSignal, settles the flow run and lets that one escape instead.
    """

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


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
        typer.echo(f"hint     {_failure_hint(Path(outcome.path))}")
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


def _failure_hint(run_dir: Path) -> str:
    """What to do after a failed run: only a job that itself failed needs a new seed; after an
    outage the job may still be training, and a re-run re-attaches to it."""
    from ftkit.runs.atomic import read_json

    job = run_dir / "job.json"
    if job.is_file() and read_json(job).get("status") == "failed":
        return (
            "one run key, one job: re-running this config reports the same failed job; "
            "change the config or data (e.g. job.seed=...) to train a new one"
        )
    return (
        "the job may still be running on the provider: run the same command again to "
        "re-attach to it (this never starts a second job)"
    )


def _uses_embedded_backend(run_dir: Path) -> bool:
    """Whether a run uses the embedded backend started in-process (local, no base_url)."""
    from ftkit.runs import RunFolder
    from ftkit.runs.endpoint import uses_embedded_backend

    return uses_embedded_backend(RunFolder(run_dir).load_config().provider)


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
    """Add `ftkit run` and `ftkit follow` to the ftkit app."""
    app.command("run")(run)
    app.command("follow")(follow)
