"""PNG plots of a Report: training curves, confusion matrix, ROC, PR and reliability.

Figures are drawn on the Agg canvas explicitly (`matplotlib.backends.backend_agg`), never through
pyplot, so no display, no global figure state and no backend surprise in a worker. matplotlib
is imported lazily: only rendering pays for it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ftkit.evaluate.classification import ClassificationMetrics, Curve
from ftkit.report.model import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 96
SMOOTH_ABOVE = 60  # points per series above which a moving average is drawn
SIZE = (6.0, 4.0)


@dataclass(frozen=True)
class Plot:
    """One plot of a report: file stem, title, and how to draw it."""

    name: str
    title: str
    draw: Callable[[Report, Axes], None]


def available_plots(report: Report) -> list[Plot]:
    """The plots this report has data for, in display order."""
    plots = []
    training = report.training
    if training and any(name.endswith("loss") for name in training.series):
        plots.append(Plot("loss", "Loss per step", _loss))
    if training and any(name.endswith("accuracy") for name in training.series):
        plots.append(Plot("accuracy", "Token accuracy per step", _accuracy))
    scores = report.evaluation.classification if report.evaluation else None
    if scores is not None:
        plots.append(Plot("confusion", "Confusion matrix (rows: expected)", _confusion))
        if scores.roc_curves:
            plots.append(Plot("roc", "ROC curve", _roc))
        if scores.pr_curves:
            plots.append(Plot("pr", "Precision–recall curve", _pr))
        if scores.reliability is not None:
            plots.append(Plot("reliability", "Reliability (calibration)", _reliability))
    return plots


def render_plots(report: Report) -> dict[str, bytes]:
    """Every available plot as PNG bytes, by name."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = {}
    for plot in available_plots(report):
        figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        plot.draw(report, axes)
        axes.set_title(plot.title)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        images[plot.name] = buffer.getvalue()
    return images


def _series(report: Report, axes: Axes, suffix: str) -> None:
    training = report.training
    assert training is not None
    for name, values in training.series.items():
        if not name.endswith(suffix):
            continue
        points = [(s, v) for s, v in zip(training.steps, values, strict=True) if v is not None]
        if not points:
            continue
        steps, ys = zip(*points, strict=True)
        if len(points) <= SMOOTH_ABOVE:
            axes.plot(steps, ys, ".-" if len(points) <= 20 else "-", label=name, linewidth=1.2)
            continue
        # Per-batch values are noisy: show them faintly, with a moving average on top.
        (line,) = axes.plot(steps, ys, "-", linewidth=0.6, alpha=0.25)
        mean_steps, means, window = moving_average(steps, ys)
        axes.plot(
            mean_steps,
            means,
            "-",
            color=line.get_color(),
            linewidth=1.6,
            label=f"{name} (mean of {window})",
        )
    axes.set_xlabel("step")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)


def moving_average(
    steps: Sequence[float], values: Sequence[float]
) -> tuple[Sequence[float], list[float], int]:
    """The trailing mean of noisy per-batch values: (steps, means, window of len // 40, ≥ 5)."""
    window = max(5, len(values) // 40)
    means = np.convolve(values, np.ones(window) / window, mode="valid")
    return steps[window - 1 :], [float(m) for m in means], window


def _loss(report: Report, axes: Axes) -> None:
    _series(report, axes, "loss")


def _accuracy(report: Report, axes: Axes) -> None:
    _series(report, axes, "accuracy")
    axes.set_ylim(-0.02, 1.02)


def _confusion(report: Report, axes: Axes) -> None:
    assert report.evaluation and report.evaluation.classification
    confusion = report.evaluation.classification.confusion
    matrix = confusion.matrix
    totals = [max(sum(row), 1) for row in matrix]
    shares = [[cell / total for cell in row] for row, total in zip(matrix, totals, strict=True)]
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    small = len(confusion.labels) <= 12
    for i, row in enumerate(matrix):
        for j, cell in enumerate(row):
            if small:
                color = "white" if shares[i][j] > 0.6 else "black"
                axes.text(j, i, str(cell), ha="center", va="center", color=color, fontsize=8)
    axes.set_xticks(range(len(confusion.predicted_labels)))
    axes.set_xticklabels(
        [label.strip() for label in confusion.predicted_labels], rotation=45, ha="right", fontsize=8
    )
    axes.set_yticks(range(len(confusion.labels)))
    axes.set_yticklabels([label.strip() for label in confusion.labels], fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")


def _curves(report: Report, axes: Axes, pick: Callable[[Report, bool], list[Curve]]) -> None:
    for baseline in (False, True):
        source = report.baseline if baseline else report.evaluation
        if source is None or source.classification is None:
            continue
        for curve in pick(report, baseline):
            who = "baseline " if baseline else ""
            area = f" ({curve.area:.3f})" if curve.area is not None else ""
            axes.plot(
                curve.x,
                curve.y,
                "--" if baseline else "-",
                linewidth=1.2,
                label=f"{who}{curve.name.strip()}{area}",
            )
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")


def _classification(report: Report, baseline: bool) -> ClassificationMetrics:
    source = report.baseline if baseline else report.evaluation
    assert source is not None and source.classification is not None
    return source.classification


def _roc(report: Report, axes: Axes) -> None:
    axes.plot([0, 1], [0, 1], ":", color="grey", linewidth=1)
    _curves(report, axes, lambda r, b: _classification(r, b).roc_curves)
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")


def _pr(report: Report, axes: Axes) -> None:
    _curves(report, axes, lambda r, b: _classification(r, b).pr_curves)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")


def _reliability(report: Report, axes: Axes) -> None:
    axes.plot([0, 1], [0, 1], ":", color="grey", linewidth=1, label="perfectly calibrated")

    def pick(r: Report, b: bool) -> list[Curve]:
        curve = _classification(r, b).reliability
        return [curve] if curve else []

    _curves(report, axes, pick)
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("observed frequency")
