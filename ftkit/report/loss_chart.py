"""A training/validation loss chart as a small self-contained SVG, from the job's events.

The Prefect UI renders markdown artifacts but runs no scripts and fetches nothing from the run
folder, so the chart travels inside the markdown as a `data:image/svg+xml` image. It is drawn by
hand (a few polylines) so that redrawing it every few seconds while a job trains costs nothing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_LOSS = re.compile(r"\b(training|validation) loss=([0-9.]+(?:e-?\d+)?)")
_STEP = re.compile(r"\bStep (\d+)/(\d+)")

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 48, 36
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
    series = {
        name: [(p.step, v) for p in points if (v := getattr(p, name)) is not None]
        for name in ("train", "valid")
    }
    values = [v for line in series.values() for _, v in line]
    last_step = max((p.total_steps for p in points), default=1)
    top = max(values, default=1.0) * 1.05 or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(step: int, value: float) -> str:
        x = LEFT + plot_w * step / max(last_step, 1)
        y = TOP + plot_h * (1 - value / top)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{_escape(title)}</text>',
    ]
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h * (1 - tick / 4)
        parts += [
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>',
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.2g}</text>',
        ]
    parts += [
        f'<text x="{LEFT}" y="{HEIGHT - 10}">step 0</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">{last_step}</text>',
    ]
    legend_x = LEFT
    for name, line in series.items():
        if not line:
            continue
        colour = COLOURS[name]
        coords = " ".join(xy(step, value) for step, value in line)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        legend = f"{LABELS[name]} (last {line[-1][1]:.3g})"
        parts.append(f'<text x="{legend_x}" y="36" fill="{colour}">{legend}</text>')
        legend_x += 7 * len(legend) + 24
    parts.append("</svg>")
    return "".join(parts)


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


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
