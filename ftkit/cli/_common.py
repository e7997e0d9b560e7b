"""Pieces shared by the CLI commands: output format, JSON printing, error handling."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from typer._click.core import Context  # typer bundles its own click
from typer.core import TyperGroup

from ftkit.errors import FtkitError

ItemT = TypeVar("ItemT", bound=BaseModel)


class OutputFormat(enum.StrEnum):
    """How a command prints its result."""

    text = "text"
    json = "json"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for programs.")
]
RunsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir",
        help="The runs folder. Default: $FTKIT_RUNS_DIR, ./runs if it has runs, else the one "
        "`ftkit run` used last.",
    ),
]
RunsConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Find the runs folder from this config's runs_dir.")
]
OverridesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Config overrides as key.path=value, e.g. job.hyperparameters.n_epochs=2."),
]


def print_json(value: Any) -> None:
    """Print a pydantic model, or anything JSON can hold, as indented JSON on stdout."""
    if isinstance(value, BaseModel):
        typer.echo(value.model_dump_json(indent=2))
        return
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [item.model_dump(mode="json") for item in value]
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def print_items(
    items: Sequence[ItemT],
    output: OutputFormat,
    line: Callable[[ItemT], str],
    exclude: set[str] | None = None,
    header: str | None = None,
) -> None:
    """A list of models: one `line(item)` each for people, under `header` even when there are
    none, and a JSON array (less `exclude`) for programs."""
    if output is OutputFormat.json:
        print_json([item.model_dump(mode="json", exclude=exclude) for item in items])
        return
    if header is not None:
        typer.echo(header)
    for item in items:
        typer.echo(line(item))


class ErrorHandlingGroup(TyperGroup):
    """Turns an FtkitError anywhere below into one line on stderr and its exit code."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except FtkitError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


class GroupOptionsAnywhere(TyperGroup):
    """A group whose own options may also follow its subcommand: `ftkit jobs list --base-url URL`
    reads as `ftkit jobs --base-url URL list`. An option the subcommand defines itself stays its."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        own = {name: param for param in self.params for name in getattr(param, "opts", [])}
        position = next((i for i, arg in enumerate(args) if arg in self.commands), None)
        if position is None:
            return super().parse_args(ctx, args)
        sub = self.commands[args[position]]
        theirs = {name for param in sub.params for name in getattr(param, "opts", [])}
        head, tail, moved = list(args[: position + 1]), args[position + 1 :], []
        i = 0
        while i < len(tail):
            name = tail[i].split("=", 1)[0]
            if tail[i] == "--":
                moved += tail[i:]
                break
            if name in own and name not in theirs and name != "--help":
                takes_value = "=" not in tail[i] and not getattr(own[name], "is_flag", False)
                head[position:position] = tail[i : i + 1 + takes_value]
                position += 1 + takes_value
                i += 1 + takes_value
                continue
            moved.append(tail[i])
            i += 1
        return super().parse_args(ctx, head + moved)
