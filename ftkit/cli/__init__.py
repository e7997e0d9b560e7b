"""The `ftkit` command line: a thin shell over the library."""

from __future__ import annotations

from typing import Annotated

import typer

from ftkit import __version__
from ftkit.cli import (
    config_cmd,
    deploy,
    files,
    jobs,
    prepare,
    report,
    reports,
    run,
    runs,
    serve,
    sweeps,
)
from ftkit.cli._common import ErrorHandlingGroup

app = typer.Typer(
    name="ftkit",
    help="Fine-tuning pipelines: prepare data, train through an OpenAI-compatible API, evaluate.",
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ftkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Fine-tuning pipelines: prepare data, train through an OpenAI-compatible API, evaluate."""


for _module in (
    prepare,
    run,
    deploy,
    runs,
    sweeps,
    report,
    reports,
    serve,
    files,
    jobs,
    config_cmd,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point; exits without the interpreter's slow heap teardown."""
    from ftkit.cli._exit import exit_now

    try:
        app()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)
