"""`ftkit report RUN`: rebuild a run's report from its folder, without calling any API."""

from __future__ import annotations

from typing import Annotated

import typer

from ftkit.cli._common import FormatOpt, OutputFormat, RunsDirOpt, print_json


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ftkit app."""
    app.command("report")(report)


def report(
    run_ref: Annotated[
        str, typer.Argument(help="Run folder path, run id (prefix) or experiment/run-id.")
    ],
    promote: Annotated[
        bool,
        typer.Option(
            "--promote/--no-promote",
            help="Apply the quality gate: a passing run becomes the experiment's champion.",
        ),
    ] = False,
    runs_dir: RunsDirOpt = None,
    output: FormatOpt = OutputFormat.text,
) -> None:
    """Rebuild report.json, report.md and report.html of a run from its files alone.

    Example: ftkit report 3f2a9c   (or: ftkit report runs/support-tickets/3f2a9c)
    """
    from ftkit.report import report_run
    from ftkit.report.tables import gate_lines, metrics_table, references_table
    from ftkit.runs import RunFolder
    from ftkit.runs.locate import locate_runs_dir

    folder = RunFolder.open(run_ref, locate_runs_dir(runs_dir))
    built, paths = report_run(folder.path, folder.load_config(), promote=promote)
    if output is OutputFormat.json:
        print_json(
            {
                "run": f"{built.experiment}/{built.run_id}",
                "files": {
                    "json": str(paths.json_path),
                    "markdown": str(paths.markdown),
                    "html": str(paths.html),
                    "plots": [str(p) for p in paths.plots],
                },
                "gate": built.gate.model_dump(mode="json") if built.gate else None,
                "metrics": built.metrics,
            }
        )
        return
    verdict, reasons = gate_lines(built)
    typer.echo(f"report of {built.experiment}/{built.run_id}")
    for row in metrics_table(built).rows:
        typer.echo(f"  {row[0]:<24} {row[1]:>8}   baseline {row[2]:>8}  {row[3]}")
    if built.baseline_placeholder:
        typer.echo(f"note: {built.baseline_placeholder}")
    references = references_table(built)
    for row in references.rows[1:] if references else []:
        typer.echo(f"  reference: {row[0]}: accuracy {row[1]}, f1_macro {row[2]}")
    typer.echo(f"gate: {verdict}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    typer.echo(f"wrote {paths.html}\n      {paths.markdown}\n      {paths.json_path}")
