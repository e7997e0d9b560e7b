"""SVG plots of a Report: training curves, confusion matrix, ROC, PR and reliability.

Drawn as SVG text by `ftkit.report.svg` (no matplotlib: a report takes milliseconds to draw, not
the ~2 s matplotlib took to import and render six PNGs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ftkit.evaluate.classification import ClassificationMetrics, Curve
from ftkit.report import svg
from ftkit.report.model import Report
from ftkit.report.svg import Axis, Series

SMOOTH_ABOVE = 60  # points per series above which a moving average is drawn


@dataclass(frozen=True)
class Plot:
    """One plot of a report: file stem, title, and how to draw it (report, title → SVG)."""

    name: str
    title: str
    draw: Callable[[Report, str], str]


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
    """Every available plot as SVG bytes, by name."""
    return {plot.name: plot.draw(report, plot.title).encode() for plot in available_plots(report)}


def _series(report: Report, suffix: str) -> list[Series]:
    training = report.training
    assert training is not None
    lines = []
    colours = iter(svg.PALETTE * 4)
    for name, values in training.series.items():
        if not name.endswith(suffix):
            continue
        points = [(s, v) for s, v in zip(training.steps, values, strict=True) if v is not None]
        if not points:
            continue
        steps, ys = zip(*points, strict=True)
        colour = next(colours)
        if len(points) <= SMOOTH_ABOVE:
            lines.append(Series(steps, ys, name, colour, markers=len(points) <= 20))
            continue
        # Per-batch values are noisy: show them faintly, with a moving average on top.
        lines.append(Series(steps, ys, None, colour, width=0.6, opacity=0.3))
        mean_steps, means, window = moving_average(steps, ys)
        lines.append(Series(mean_steps, means, f"{name} (mean of {window})", colour, width=1.6))
    return lines


def moving_average(
    steps: Sequence[float], values: Sequence[float]
) -> tuple[Sequence[float], list[float], int]:
    """The trailing mean of noisy per-batch values: (steps, means, window of len // 40, ≥ 5)."""
    window = max(5, len(values) // 40)
    means = np.convolve(values, np.ones(window) / window, mode="valid")
    return steps[window - 1 :], [float(m) for m in means], window


def _loss(report: Report, title: str) -> str:
    return svg.line_chart(title, _series(report, "loss"), Axis("step"), Axis())


def _accuracy(report: Report, title: str) -> str:
    lines = _series(report, "accuracy")
    return svg.line_chart(title, lines, Axis("step"), Axis(limits=(-0.02, 1.02)), "lower right")


def _confusion(report: Report, title: str) -> str:
    assert report.evaluation and report.evaluation.classification
    confusion = report.evaluation.classification.confusion
    matrix = confusion.matrix
    totals = [max(sum(row), 1) for row in matrix]
    shares = [[cell / total for cell in row] for row, total in zip(matrix, totals, strict=True)]
    small = len(confusion.labels) <= 12
    texts = [[str(cell) if small else "" for cell in row] for row in matrix]
    return svg.heatmap(
        title,
        shares,
        texts,
        [label.strip() for label in confusion.labels],
        [label.strip() for label in confusion.predicted_labels],
        "predicted",
        "expected",
    )


def _curves(report: Report, pick: Callable[[Report, bool], list[Curve]]) -> list[Series]:
    lines = []
    colours = iter(svg.PALETTE * 4)
    for baseline in (False, True):
        source = report.baseline if baseline else report.evaluation
        if source is None or source.classification is None:
            continue
        for curve in pick(report, baseline):
            who = "baseline " if baseline else ""
            area = f" ({curve.area:.3f})" if curve.area is not None else ""
            label = f"{who}{curve.name.strip()}{area}"
            lines.append(Series(curve.x, curve.y, label, next(colours), dashed=baseline, width=1.2))
    return lines


def _classification(report: Report, baseline: bool) -> ClassificationMetrics:
    source = report.baseline if baseline else report.evaluation
    assert source is not None and source.classification is not None
    return source.classification


UNIT = (-0.02, 1.02)
DIAGONAL = ((0.0, 1.0), (0.0, 1.0))


def _roc(report: Report, title: str) -> str:
    chance = Series(*DIAGONAL, colour="grey", dotted=True, width=1)
    lines = [chance, *_curves(report, lambda r, b: _classification(r, b).roc_curves)]
    x, y = Axis("false positive rate", UNIT), Axis("true positive rate", UNIT)
    return svg.line_chart(title, lines, x, y, "lower right")


def _pr(report: Report, title: str) -> str:
    lines = _curves(report, lambda r, b: _classification(r, b).pr_curves)
    return svg.line_chart(title, lines, Axis("recall", UNIT), Axis("precision", UNIT), "lower left")


def _reliability(report: Report, title: str) -> str:
    def pick(r: Report, b: bool) -> list[Curve]:
        curve = _classification(r, b).reliability
        return [curve] if curve else []

    ideal = Series(*DIAGONAL, "perfectly calibrated", "grey", dotted=True, width=1)
    lines = [ideal, *_curves(report, pick)]
    x, y = Axis("mean predicted probability", UNIT), Axis("observed frequency", UNIT)
    return svg.line_chart(title, lines, x, y, "upper left")
