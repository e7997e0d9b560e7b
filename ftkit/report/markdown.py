"""Render a Report as Markdown (report.md) and as a short summary (a Prefect artifact)."""

from __future__ import annotations

from ftkit.report import tables
from ftkit.report.model import Report
from ftkit.report.plots import available_plots
from ftkit.report.tables import Table

PLOTS_DIR = "plots"
PLOT_SUFFIX = ".svg"


def render_markdown(report: Report) -> str:
    """The whole report as Markdown; plots are linked from plots/<name>.svg beside it."""
    parts = [_summary(report)]
    sections = [
        ("Per class", tables.per_class_table(report)),
        ("Confusion matrix", tables.confusion_table(report)),
        ("Answers naming no class", tables.invalid_table(report)),
        ("Answer lengths", tables.text_table(report)),
        ("Worst errors", tables.worst_errors_table(report)),
        ("Training", tables.training_table(report)),
        ("Server-side vs client-side classification metrics", tables.server_table(report)),
        ("Data", tables.splits_table(report)),
        ("Data findings", tables.findings_table(report)),
        ("Cost", tables.cost_table(report)),
    ]
    parts += [f"## {title}\n\n{markdown_table(table)}" for title, table in sections if table]
    plots = available_plots(report)
    if plots:
        parts.append(
            "## Plots\n\n"
            + "\n\n".join(f"![{p.title}]({PLOTS_DIR}/{p.name}{PLOT_SUFFIX})" for p in plots)
        )
    if report.notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in report.notes))
    return "\n\n".join(parts) + "\n"


def summary_markdown(report: Report) -> str:
    """Overview, gate, headline metrics and cost: for a Prefect markdown artifact."""
    parts = [_summary(report)]
    cost = tables.cost_table(report)
    if cost is not None and report.cost is not None:
        price = report.cost.price_per_1k_tokens
        priced = (
            f"${price:g} per 1K tokens ({report.cost.price_source})"
            if price is not None
            else f"no known price for {report.cost.model}"
        )
        parts.append(f"## Cost\n\n{markdown_table(cost)}\n\nPrice: {priced}.")
    return "\n\n".join(parts) + "\n"


def _summary(report: Report) -> str:
    verdict, reasons = tables.gate_lines(report)
    lines = [f"# Report: {report.experiment} / {report.run_id}", ""]
    lines += [f"- **{key}**: {_cell(value)}" for key, value in tables.overview(report)]
    lines += ["", f"## Quality gate: {verdict}", ""]
    lines += [f"- {reason}" for reason in reasons] or ["- (no reasons recorded)"]
    metrics = tables.metrics_table(report)
    if metrics.rows:
        lines += ["", "## Metrics", "", markdown_table(metrics)]
    references = tables.references_table(report)
    if references:
        lines += ["", "## Reference rows (same examples)", "", markdown_table(references)]
    return "\n".join(lines)


def markdown_table(table: Table) -> str:
    """A Markdown table; pipes escaped, newlines shown as \\n so each row stays one line."""
    header = "| " + " | ".join(_cell(h) for h in table.headers) + " |"
    rule = "|" + "|".join("---" for _ in table.headers) + "|"
    rows = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join([header, rule, *rows])


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")
