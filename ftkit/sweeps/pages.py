"""The leaderboard rendered for people: a text/Markdown/HTML table, the metric against each
swept parameter, and the trials' loss curves overlaid (PNG, drawn on the Agg canvas)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit.report.model import read_report
from ftkit.report.plots import SMOOTH_ABOVE, moving_average
from ftkit.sweeps.leaderboard import HEADLINE, Leaderboard, TrialRow
from ftkit.sweeps.search import short_names

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PLOTS_DIR = "plots"
DPI = 96
SIZE = (6.0, 4.0)
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1.5rem;color:#1d1d1f}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px} th,td{border:1px solid #ddd;padding:3px 8px;
text-align:left} th{background:#f4f4f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:12px} img{width:100%}
"""


def table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """The leaderboard as headers and text cells, one row per trial in rank order."""
    names = short_names(board.swept_keys)
    heldout = [m for m in HEADLINE if any(m in row.heldout for row in board.rows)]
    split = next((row.heldout_split for row in board.rows if row.heldout_split), "test")
    headers = [
        "rank",
        "run id",
        *(names[key] for key in board.swept_keys),
        "status",
        f"{board.metric} (validation)",
        *(f"{m} ({split})" for m in heldout),
        "trained tokens",
        "cost $",
    ]
    rows = [
        [
            "-" if row.rank is None else str(row.rank),
            row.run_id,
            *(_cell(row.values.get(key)) for key in board.swept_keys),
            row.status,
            _cell(row.metric),
            *(_cell(row.heldout.get(m)) for m in heldout),
            _cell(row.trained_tokens),
            _cost(row),
        ]
        for row in board.rows
    ]
    return headers, rows


def headline(board: Leaderboard) -> str:
    """One sentence: how the trials were ranked and which one won."""
    best = board.best
    winner = f"best: {best.run_id} ({board.metric} {_cell(best.metric)})" if best else "no winner"
    return (
        f"sweep {board.experiment}/{board.sweep_id} ({board.method}, {len(board.rows)} trials), "
        f"ranked by {board.metric} on the validation split ({board.goal}); {winner}; "
        f"spent ${board.spent_usd:.4f}"
    )


def render_markdown(board: Leaderboard, images: dict[str, bytes]) -> str:
    """leaderboard.md: the headline, the table, the tie-break rule and the plots."""
    headers, rows = table(board)
    lines = [f"# Leaderboard: {board.experiment} / sweep {board.sweep_id}", "", headline(board), ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    lines += ["", f"Ties: {board.tie_break}.", ""]
    if board.best_report:
        lines.append(f"Best trial's report: [{board.best_report}](../../../{board.best_report})")
    lines += [f"![{name}]({PLOTS_DIR}/{name}.png)" for name in images]
    errors = [row for row in board.rows if row.error]
    if errors:
        lines += ["", "## Failed trials", ""]
        lines += [f"- {row.run_id}: {row.error}" for row in errors]
    return "\n".join(lines) + "\n"


def render_html(board: Leaderboard, images: dict[str, bytes]) -> str:
    """leaderboard.html: one self-contained page, plots embedded as data: URIs."""
    headers, rows = table(board)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body_rows = "".join(
        "<tr>"
        + "".join(f"<td>{_link(row, cell, i)}</td>" for i, cell in enumerate(cells))
        + "</tr>"
        for row, cells in zip(board.rows, rows, strict=True)
    )
    best = ""
    if board.best_report:
        best = f"<p>Best trial's report: <a id='best-report' href='../../../{escape(board.best_report)}'>{escape(board.best_run_id or '')}</a></p>"
    figures = "".join(
        f"<figure><img alt='{escape(name)}' src='data:image/png;base64,"
        f"{base64.b64encode(png).decode()}'></figure>"
        for name, png in images.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Leaderboard {escape(board.experiment)} {escape(board.sweep_id)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Leaderboard: {escape(board.experiment)} / sweep {escape(board.sweep_id)}</h1>"
        f"<p>{escape(headline(board))}</p>{best}"
        f"<table id='leaderboard'><tr>{head}</tr>{body_rows}</table>"
        f"<p>Ties: {escape(board.tie_break)}.</p>"
        f"<div class='plots'>{figures}</div></body></html>\n"
    )


def render_plots(board: Leaderboard, runs_dir: Path) -> dict[str, bytes]:
    """PNGs: the ranking metric against each swept key, and every trial's loss curves."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = {}
    drawings: list[tuple[str, str | None]] = [
        (f"metric-vs-{short_names(board.swept_keys)[key]}", key) for key in board.swept_keys
    ]
    drawings.append(("loss-curves", None))
    for name, key in drawings:
        figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if key is None and not _loss_curves(board, runs_dir, axes):
            continue
        if key is not None:
            _metric_against(board, key, axes)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        images[name] = buffer.getvalue()
    return images


def _metric_against(board: Leaderboard, key: str, axes: Axes) -> None:
    points = [(row.values.get(key), row.metric) for row in board.rows if row.metric is not None]
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _ in points)
    labels = sorted({str(x) for x, _ in points})
    xs = [float(x) if numeric else float(labels.index(str(x))) for x, _ in points]  # type: ignore[arg-type]
    axes.scatter(xs, [y for _, y in points])
    if not numeric:
        axes.set_xticks(range(len(labels)), labels)
    elif xs and min(xs) > 0 and max(xs) / min(xs) >= 10:
        axes.set_xscale("log")
    axes.set_xlabel(key)
    axes.set_ylabel(f"{board.metric} (validation)")
    axes.set_title(f"{board.metric} vs {short_names(board.swept_keys)[key]}")
    axes.grid(alpha=0.3)


def _loss_curves(board: Leaderboard, runs_dir: Path, axes: Axes) -> bool:
    drawn = False
    for index, row in enumerate(board.rows):
        color = f"C{index % 10}"
        path = runs_dir / board.experiment / row.run_id / "report.json"
        training = read_report(path).training if path.is_file() else None
        if training is None:
            continue
        for series, style in (("train_loss", "-"), ("valid_loss", "--")):
            points = [
                (step, value)
                for step, value in zip(
                    training.steps, training.series.get(series, []), strict=False
                )
                if value is not None
            ]
            if not points:
                continue
            steps: Sequence[float] = [float(step) for step, _ in points]
            values: Sequence[float] = [value for _, value in points]
            label = f"{row.run_id} {series}"
            if len(points) > SMOOTH_ABOVE:
                steps, values, window = moving_average(steps, values)
                label += f" (mean of {window})"
            axes.plot(steps, values, style, color=color, linewidth=1.2, label=label)
            drawn = True
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("Loss of every trial (train solid, validation dashed)")
    axes.legend(fontsize="x-small")
    axes.grid(alpha=0.3)
    return drawn


def _link(row: TrialRow, cell: str, column: int) -> str:
    if column == 1 and row.report:
        return f"<a href='../../../{escape(row.report)}'>{escape(cell)}</a>"
    return escape(cell)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cost(row: TrialRow) -> str:
    if row.cost_usd is None:
        return "-"
    return f"{row.cost_usd:.4f}" + (" (est.)" if row.cost_kind == "estimated" else "")
