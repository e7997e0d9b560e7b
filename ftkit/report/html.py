"""Render a Report as one self-contained HTML page: inline CSS, plots embedded as data: URIs."""

from __future__ import annotations

import base64
import json
from html import escape

from ftkit.report import tables
from ftkit.report.model import Report
from ftkit.report.plots import available_plots, render_plots
from ftkit.report.tables import Table

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1.5rem;color:#1d1d1f}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px} th,td{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top} th{background:#f4f4f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px} dt{font-weight:600}
.pass{color:#0a7d32;font-weight:700} .fail{color:#b3261e;font-weight:700} .muted{color:#666}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:12px} figure{margin:0} figure img{width:100%;height:auto}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;font-size:12px} td.text{max-width:420px;white-space:pre-wrap;word-break:break-word}
"""


def render_html(report: Report, images: dict[str, bytes] | None = None) -> str:
    """The whole report as a single HTML page with its plots embedded.

    `images` are the SVGs of `render_plots(report)` when the caller has them already.
    """
    verdict, reasons = tables.gate_lines(report)
    css_class = "pass" if report.gate and report.gate.passed else "fail"
    if verdict == "not configured":
        css_class = "muted"
    body = [
        f"<h1>Report: {escape(report.experiment)} / {escape(report.run_id)}</h1>",
        "<dl id='overview'>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in tables.overview(report))
        + "</dl>",
        _section(
            "gate",
            "Quality gate",
            f"<p class='{css_class}'>{escape(verdict)}</p>"
            + "<ul>"
            + "".join(f"<li>{escape(r)}</li>" for r in reasons)
            + "</ul>",
        ),
    ]
    metrics = tables.metrics_table(report)
    if metrics.rows:
        title = "Metrics vs baseline" if report.baseline else "Metrics"
        body.append(_section("metrics", title, _table(metrics)))
    references = tables.references_table(report)
    if references:
        body.append(_section("references", "Reference rows (same examples)", _table(references)))
    images = render_plots(report) if images is None else images
    if images:
        figures = "".join(
            f"<figure><img alt='{escape(p.title)}' src='data:image/svg+xml;base64,"
            f"{base64.b64encode(images[p.name]).decode()}'></figure>"
            for p in available_plots(report)
        )
        body.append(_section("plots", "Plots", f"<div class='plots'>{figures}</div>"))
    sections = [
        ("per-class", "Per class", tables.per_class_table(report)),
        ("confusion", "Confusion matrix", tables.confusion_table(report)),
        ("invalid", "Answers naming no class", tables.invalid_table(report)),
        ("lengths", "Answer lengths", tables.text_table(report)),
        ("errors", "Worst errors", tables.worst_errors_table(report)),
        ("training", "Training", tables.training_table(report)),
        ("server", "Server-side vs client-side", tables.server_table(report)),
        ("data", "Data", tables.splits_table(report)),
        ("findings", "Data findings", tables.findings_table(report)),
        ("cost", "Cost", tables.cost_table(report)),
    ]
    body += [_section(key, title, _table(table)) for key, title, table in sections if table]
    if report.notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
        body.append(_section("notes", "Notes", f"<ul>{items}</ul>"))
    config = json.dumps(report.config, indent=2, ensure_ascii=False)
    body.append(_section("config", "Config", f"<pre>{escape(config)}</pre>"))
    title = escape(f"ftkit report: {report.experiment} / {report.run_id}")
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _section(key: str, title: str, content: str) -> str:
    return f"<section id='{key}'><h2>{escape(title)}</h2>{content}</section>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    rows = "".join("<tr>" + "".join(_td(cell) for cell in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _td(cell: str) -> str:
    stripped = cell.replace(",", "").replace("▲", "").replace("▼", "").strip()
    numeric = stripped.lstrip("+-$").replace(".", "", 1).isdigit()
    css = "num" if numeric else "text" if len(cell) > 40 else ""
    attr = f" class='{css}'" if css else ""
    return f"<td{attr}>{escape(cell)}</td>"
