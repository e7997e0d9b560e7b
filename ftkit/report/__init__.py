"""Run reports: one Report model, rendered to report.json, report.md and report.html.

Typical use after `ftkit.evaluate.evaluate_run`:

    report = build_report(run_dir, config)      # from the run folder only; no API calls
    gate = apply_gate(report, run_dir.parent)   # promote to champion when the gate passes
    paths = write_report(report, run_dir)

or `report_run(run_dir, config)` for all three.
"""

from ftkit.report.build import build_report
from ftkit.report.gate import Champion, apply_gate, decide_gate, read_champion
from ftkit.report.html import render_html
from ftkit.report.markdown import render_markdown, summary_markdown
from ftkit.report.model import SCHEMA_VERSION, GateResult, Report, read_report
from ftkit.report.tables import metrics_records
from ftkit.report.write import ReportPaths, report_run, write_report

__all__ = [
    "SCHEMA_VERSION",
    "Champion",
    "GateResult",
    "Report",
    "ReportPaths",
    "apply_gate",
    "build_report",
    "decide_gate",
    "metrics_records",
    "read_champion",
    "read_report",
    "render_html",
    "render_markdown",
    "report_run",
    "summary_markdown",
    "write_report",
]
