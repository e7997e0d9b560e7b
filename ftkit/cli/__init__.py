"""The `ftkit` command line: a thin shell over the library."""

from __future__ import annotations

import typer

from ftkit.cli import config_cmd, deploy, files, jobs, prepare, report, run, runs, serve
from ftkit.cli._common import ErrorHandlingGroup

app = typer.Typer(
    name="ftkit",
    help="Fine-tuning pipelines: prepare data, train through an OpenAI-compatible API, evaluate.",
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (prepare, run, deploy, runs, report, serve, files, jobs, config_cmd):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
