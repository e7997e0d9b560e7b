"""`ftkit deploy`: a Prefect deployment of an experiment config, served here or on a work pool."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ftkit.cli._common import OverridesArg
from ftkit.cli.run import PREFECT_DEFAULTS
from ftkit.config import load_config

PoolOpt = Annotated[
    str | None,
    typer.Option(
        "--pool",
        help="Register the deployment on this work pool (a process pool, created if missing) "
        "and exit; `prefect worker start --pool POOL` runs it.",
    ),
]


def deploy(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
    overrides: OverridesArg = None,
    pool: PoolOpt = None,
) -> None:
    """Deploy this config to a Prefect server (PREFECT_API_URL) on its schedule.

    Without --pool, serve the deployment from this process until Ctrl-C; with --pool, register
    it on the pool and exit. Its parameters are the config path and the overrides.

    Example: ftkit deploy configs/scheduled.yaml --pool ftkit
    """
    load_config(config, overrides or [])  # a bad config fails here, before Prefect starts
    _prefect_defaults()
    from flows.deploy import deployment_for, serve_or_register

    deployment_id = serve_or_register(deployment_for(config, overrides or []), pool)
    if pool is not None:
        typer.echo(f"deployment {deployment_id} registered on work pool {pool!r}")
        typer.echo(f"run it with: prefect worker start --pool {pool}")


def watch(
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", help="The runs folder whose detached runs to carry on.")
    ] = Path("runs"),
    every: Annotated[
        float, typer.Option("--every", min=1, help="Seconds between watch runs.")
    ] = 60,
    pool: PoolOpt = None,
) -> None:
    """Deploy the watch flow: every --every seconds it advances the detached runs
    (`job.follow: detach`) under --runs-dir, and evaluates and reports those whose job ended.

    Example: ftkit watch --runs-dir runs --every 60 --pool ftkit
    """
    _prefect_defaults()
    from flows.deploy import serve_or_register, watch_deployment

    deployment_id = serve_or_register(watch_deployment(runs_dir, every), pool)
    if pool is not None:
        typer.echo(f"watch deployment {deployment_id} registered on work pool {pool!r}")


def _prefect_defaults() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def register(app: typer.Typer) -> None:
    """Add `ftkit deploy` and `ftkit watch` to the ftkit app."""
    app.command("deploy")(deploy)
    app.command("watch")(watch)
