"""`ftkit config validate|show|schema`: check and inspect experiment configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, OverridesArg, print_json
from ftkit.config import ExperimentConfig, load_config

config_app = typer.Typer(help="Check and inspect experiment configs.", no_args_is_help=True)

ConfigArg = Annotated[Path, typer.Argument(help="Experiment config (YAML).")]


@config_app.command("validate")
def validate(
    config: ConfigArg, overrides: OverridesArg = None, output: FormatOpt = OutputFormat.text
) -> None:
    """Check a config and its overrides; every problem is listed at once. A sweep lists its
    trials (the resolved overrides of each) without running anything.

    Example: ftkit config validate configs/sweep.yaml
    """
    from ftkit.sweeps.search import expand_sweep, plan_sweep

    resolved = load_config(config, overrides or [])
    _check_model_fits(resolved)
    trials = expand_sweep(resolved)
    if not resolved.sweep.parameters and not resolved.sweep.coupled:
        if output is OutputFormat.json:
            print_json({"config": str(config), "ok": True})
        else:
            typer.echo(f"{config}: ok")
        return
    listing = plan_sweep(resolved, trials)
    if output is OutputFormat.json:
        print_json({"config": str(config), "ok": True, **listing.model_dump(mode="json")})
        return
    typer.echo(f"{config}: ok ({listing.summary()})")
    for line in listing.table():
        typer.echo("  " + line)


def _check_model_fits(config: ExperimentConfig) -> None:
    """ConfigError when the data's format, job.model and provider.dialect do not go together."""
    from ftkit.data.catalog import model_fit_problem
    from ftkit.data.checks import detect_file_shape
    from ftkit.data.reading import SourceReader
    from ftkit.errors import ConfigError

    source = config.data.source
    shape = (
        detect_file_shape(SourceReader(source, config.data.format, config.data.columns).chunks())
        if source.is_file()
        else None
    )
    problem = model_fit_problem(shape, config.job.model, config.provider.dialect)
    if problem is not None:
        raise ConfigError(f"{source if shape else 'job.model'}: {problem}")


@config_app.command("show")
def show(
    config: ConfigArg, overrides: OverridesArg = None, output: FormatOpt = OutputFormat.text
) -> None:
    """Print the resolved config, defaults filled in.

    Example: ftkit config show configs/quickstart.yaml --format json
    """
    resolved = load_config(config, overrides or [])
    if output is OutputFormat.json:
        print_json(resolved)
        return
    import yaml

    typer.echo(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False).rstrip())


@config_app.command("schema")
def schema() -> None:
    """Print the JSON schema of experiment configs (for editor validation).

    Example: ftkit config schema > ftkit-config.schema.json
    """
    typer.echo(json.dumps(ExperimentConfig.model_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    """Add `ftkit config` to the ftkit app."""
    app.add_typer(config_app, name="config")
