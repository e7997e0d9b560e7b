"""Write a Report into its run folder: report.json, report.md, report.html and plots/*.svg."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ftkit.config import ExperimentConfig
from ftkit.report.build import build_report
from ftkit.report.gate import apply_gate
from ftkit.report.html import render_html
from ftkit.report.markdown import PLOT_SUFFIX, PLOTS_DIR, render_markdown
from ftkit.report.model import Report
from ftkit.report.plots import render_plots
from ftkit.runs.atomic import write_bytes_atomic


class ReportPaths(BaseModel):
    """The files a report was written to."""

    json_path: Path
    markdown: Path
    html: Path
    plots: list[Path]


def write_report(report: Report, run_dir: Path) -> ReportPaths:
    """Render the report once in every format and write the files atomically."""
    images = render_plots(report)
    plots = []
    for name, image in images.items():
        path = run_dir / PLOTS_DIR / f"{name}{PLOT_SUFFIX}"
        write_bytes_atomic(path, image)
        plots.append(path)
    paths = ReportPaths(
        json_path=run_dir / "report.json",
        markdown=run_dir / "report.md",
        html=run_dir / "report.html",
        plots=plots,
    )
    write_bytes_atomic(paths.json_path, report.model_dump_json(indent=2).encode())
    write_bytes_atomic(paths.markdown, render_markdown(report).encode())
    write_bytes_atomic(paths.html, render_html(report, images).encode())
    return paths


def report_run(
    run_dir: Path, config: ExperimentConfig, *, promote: bool = True
) -> tuple[Report, ReportPaths]:
    """Build the report, apply the gate (promoting a passing run unless `promote` is False), write.

    The one call a pipeline needs after `evaluate_run`; `ftkit report` uses it with promote=False.
    """
    report = build_report(run_dir, config)
    if promote:
        apply_gate(report, run_dir.parent)
    return report, write_report(report, run_dir)
