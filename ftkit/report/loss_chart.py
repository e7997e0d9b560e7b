"""A training/validation loss chart as a small self-contained SVG, from the job's events.

The Prefect UI renders markdown artifacts but runs no scripts and fetches nothing from the run
folder, so the chart travels inside the markdown as a `data:image/svg+xml` image. It is drawn by
hand (`ftkit.report.svg`, as the report's plots) so that redrawing it every few seconds while a
job trains costs nothing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ftkit.report.svg import Axis, Series, line_chart

_LOSS = re.compile(r"\b(training|validation) loss=([0-9.]+(?:e-?\d+)?)")
_STEP = re.compile(r"\bStep (\d+)/(\d+)")

WIDTH, HEIGHT = 640, 280
COLOURS = {"train": "#2563eb", "valid": "#ea580c"}
LABELS = {"train": "training loss", "valid": "validation loss"}


@dataclass(frozen=True)
class LossPoint:
    """The losses a job reported at one step (validation loss only on some steps)."""

    step: int
    total_steps: int
    train: float | None
    valid: float | None = None


def step_of(message: str, data: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """(steps done, total steps) of a job event: from its `data`, else `Step 3/10` in its text."""
    data = data or {}
    if isinstance(data.get("step"), int) and isinstance(data.get("total_steps"), int):
        return data["step"], data["total_steps"]
    match = _STEP.search(message)
    return (int(match[1]), int(match[2])) if match else None


def loss_point(message: str, data: Mapping[str, Any] | None) -> LossPoint | None:
    """The losses of one job event: from its `data` (jobs dialect) or its message (legacy)."""
    step = step_of(message, data)
    if step is None:
        return None
    train, valid = (data or {}).get("train_loss"), (data or {}).get("valid_loss")
    if train is None and valid is None:
        found = dict(_LOSS.findall(message))
        train, valid = found.get("training"), found.get("validation")
    if train is None and valid is None:
        return None
    return LossPoint(
        step=step[0],
        total_steps=step[1],
        train=None if train is None else float(train),
        valid=None if valid is None else float(valid),
    )


def loss_points(events: Iterable[Mapping[str, Any]]) -> list[LossPoint]:
    """The loss points of recorded events (events.jsonl rows), in step order."""
    points = (loss_point(str(e.get("message", "")), e.get("data")) for e in events)
    return sorted((p for p in points if p is not None), key=lambda p: p.step)


def loss_chart_svg(points: list[LossPoint], title: str = "Loss") -> str:
    """An SVG line chart of training (and validation) loss against the step."""
    lines = []
    for name in ("train", "valid"):
        line = [(p.step, v) for p in points if (v := getattr(p, name)) is not None]
        if line:
            steps, values = zip(*line, strict=True)
            label = f"{LABELS[name]} (last {values[-1]:.3g})"
            lines.append(Series(steps, values, label, COLOURS[name], width=2))
    top = max((max(line.ys) for line in lines), default=1.0) * 1.05 or 1.0
    last_step = max((p.total_steps for p in points), default=1)
    x, y = Axis("step", (0, max(last_step, 1))), Axis(limits=(0, top))
    return line_chart(title, lines, x, y, size=(WIDTH, HEIGHT))


def svg_data_uri(svg: str) -> str:
    """The SVG as a data URI, for a markdown image."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def loss_chart_markdown(points: list[LossPoint], title: str = "Loss") -> str:
    """A markdown image of the loss chart, or a note that no loss was reported yet."""
    if not points:
        return "_No loss reported yet._"
    last = points[-1]
    alt = f"{title}: step {last.step}/{last.total_steps}"
    return f"![{alt}]({svg_data_uri(loss_chart_svg(points, title))})"
