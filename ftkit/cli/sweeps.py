"""`ftkit run` of a sweep config, and `ftkit sweeps show`: a sweep's leaderboard.

A sweep exits 0 when every trial succeeded, 1 when one failed, 3 when one was cancelled (the
others still ran); 2 for a config or data error before anything started.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, OverridesArg, RunsDirOpt, print_json
from ftkit.config import ExperimentConfig, load_config

if TYPE_CHECKING:
    from ftkit.sweeps.leaderboard import Leaderboard

sweeps_app = typer.Typer(help="Inspect sweeps and their leaderboards.", no_args_is_help=True)

EXIT_CODES = {"succeeded": 0, "cancelled": 3}


def run_sweep(
    path: Path, overrides: list[str], config: ExperimentConfig, output: OutputFormat, *,
    over_budget: bool,
) -> None:  # fmt: skip
    """Print the sweep's cost estimate and refuse it above the budget (before anything starts);
    then run every trial under one parent flow run and print the leaderboard. With
    `sweep.pool`, first register the pipeline deployment on the pool (as `ftkit deploy
    CONFIG --pool POOL` does) for the trials to run as its flow runs."""
    import asyncio

    from ftkit.cli.run import prefect_and_api
    from ftkit.config import absolute_overrides
    from ftkit.errors import ConfigError
    from ftkit.sweeps.budget import check_budget, sweep_cost
    from ftkit.sweeps.search import expand_sweep

    pool = config.sweep.pool
    if pool and not os.environ.get("PREFECT_API_URL"):
        msg = (
            f"sweep.pool: the trials run on the workers of pool {pool!r}, which need a Prefect "
            "server: start one (prefect server start) and set PREFECT_API_URL"
        )
        raise ConfigError(msg)
    cost = sweep_cost(config, expand_sweep(config))
    typer.echo(cost.summary(), err=output is OutputFormat.json)
    check_budget(cost, over_budget=over_budget)
    source, overrides = str(path.resolve()), absolute_overrides(overrides)
    with prefect_and_api(config) as base_url:
        from flows.sweep import fine_tune_sweep

        if pool:
            from flows.deploy import deployment_for, serve_or_register, trials_deployment_name

            serve_or_register(deployment_for(source, overrides, trials=True), pool)
            typer.echo(
                "trials run as flow runs of deployment "
                f"fine-tune-pipeline/{trials_deployment_name(config.name)} "
                f"on work pool {pool!r}",
                err=output is OutputFormat.json,
            )
        outcome = asyncio.run(fine_tune_sweep(source, overrides, base_url=base_url))
    board = outcome.leaderboard
    if output is OutputFormat.json:
        print_json(outcome)
    else:
        print_leaderboard(board)
        typer.echo(f"leaderboard  {Path(outcome.folder) / 'leaderboard.html'}")
    raise typer.Exit(max(EXIT_CODES.get(row.status, 1) for row in board.rows))


@sweeps_app.command("show")
def show(
    sweep: Annotated[
        str, typer.Argument(help="Sweep id (prefix), experiment/sweep-id, folder, or its config.")
    ],
    overrides: OverridesArg = None,
    output: FormatOpt = OutputFormat.text,
    runs_dir: RunsDirOpt = None,
) -> None:
    """Print a sweep's leaderboard, ranked from its trials' run folders (no API calls).

    Example: ftkit sweeps show configs/sweep.yaml --format json
    """
    from ftkit.sweeps.folder import SweepFolder

    if sweep.endswith((".yaml", ".yml")) and Path(sweep).is_file():
        folder = SweepFolder.of_config(load_config(sweep, overrides or []))
    else:
        from ftkit.runs.locate import locate_runs_dir

        folder = SweepFolder.open(sweep, locate_runs_dir(runs_dir))
    board = folder.leaderboard()
    if output is OutputFormat.json:
        print_json(board)
        return
    print_leaderboard(board)


def print_leaderboard(board: Leaderboard) -> None:
    """The headline, the table in rank order, the tie rule and any trial errors."""
    from ftkit.sweeps.pages import headline, table
    from ftkit.sweeps.render import text_table

    typer.echo(headline(board))
    for line in text_table(*table(board)):
        typer.echo("  " + line)
    typer.echo(f"ties: {board.tie_break}")
    if board.best_report:
        typer.echo(f"best report  {board.best_report}")
    for row in board.rows:
        if row.error:
            typer.echo(f"error    {row.run_id}: {row.error}")


def register(app: typer.Typer) -> None:
    """Add `ftkit sweeps` to the ftkit app."""
    app.add_typer(sweeps_app, name="sweeps")
