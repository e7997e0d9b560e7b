"""Charts as small self-contained SVG documents, written as text: line charts and heatmaps.

The report's plots are a few lines, curves and a matrix; drawing them by hand costs
milliseconds, where matplotlib costs ~0.8 s to import and ~0.3 s per PNG figure on 2 cores
(most of a quickstart's report time). Browsers, the Prefect UI and markdown viewers show SVG
as they show PNG, and the text stays sharp at any zoom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

WIDTH, HEIGHT = 576, 384  # 6 x 4 inches at 96 dpi, as the PNGs were
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
CHAR_W = 6.2  # average width of a 11 px sans-serif character, for layout
FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="11"'

Corner = Literal["upper right", "lower right", "upper left", "lower left"]


@dataclass(frozen=True)
class Series:
    """One line of a chart; `colour` None takes the next palette colour."""

    xs: Sequence[float]
    ys: Sequence[float]
    label: str | None = None
    colour: str | None = None
    dashed: bool = False
    dotted: bool = False
    width: float = 1.5
    opacity: float = 1.0
    markers: bool = False


@dataclass(frozen=True)
class Axis:
    """An axis: its label and, when fixed, its range (else from the data)."""

    label: str = ""
    limits: tuple[float, float] | None = None


def escape(text: str) -> str:
    """Text safe inside SVG elements and attribute values."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values (steps of 1, 2 or 5 × 10^k) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda step: abs(math.log(step / raw)))
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def line_chart(
    title: str,
    series: Sequence[Series],
    x: Axis,
    y: Axis,
    legend: Corner = "upper right",
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> str:
    """An SVG line chart: axes with round ticks, a light grid, the lines and a legend."""
    points = [(a, b) for s in series for a, b in zip(s.xs, s.ys, strict=True)]
    x_low, x_high = x.limits or _extent([a for a, _ in points])
    y_low, y_high = y.limits or _extent([b for _, b in points], pad=0.05)
    y_ticks = nice_ticks(y_low, y_high)
    left = 14 + max((len(_tick(t)) for t in y_ticks), default=1) * CHAR_W + (18 if y.label else 0)
    width, height = size
    frame = _Frame(left, 16.0, width - 34.0, height - 44.0 - (14 if x.label else 0))
    frame.x_range, frame.y_range = (x_low, x_high), (y_low, y_high)
    parts = _open(title, size) + frame.axes(nice_ticks(x_low, x_high, 6), y_ticks, x.label, y.label)
    entries: list[tuple[str, Series, str]] = []
    colours = iter(PALETTE * (len(series) // len(PALETTE) + 1))
    parts.append('<g clip-path="url(#plot)">')
    for line in series:
        colour = line.colour or next(colours)
        coords = " ".join(frame.point(a, b) for a, b in zip(line.xs, line.ys, strict=True))
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        dash = ' stroke-dasharray="2 3"' if line.dotted else dash
        opacity = f' stroke-opacity="{line.opacity}"' if line.opacity < 1 else ""
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="{line.width}"{dash}{opacity}/>'
        )
        if line.markers:
            parts += [
                f'<circle cx="{c.split(",")[0]}" cy="{c.split(",")[1]}" r="2.5" fill="{colour}"/>'
                for c in coords.split()
            ]
        if line.label:
            entries.append((line.label, line, colour))
    parts.append("</g>")
    parts += frame.legend(entries, legend)
    return _close(parts)


def heatmap(
    title: str,
    shares: Sequence[Sequence[float]],
    texts: Sequence[Sequence[str]],
    rows: Sequence[str],
    columns: Sequence[str],
    x_label: str,
    y_label: str,
) -> str:
    """An SVG heatmap of shares in [0, 1] (white to dark blue), each cell labelled."""
    left = 30 + max((len(r) for r in rows), default=1) * CHAR_W
    bottom = 40 + max((len(c) for c in columns), default=1) * CHAR_W * 0.71
    frame = _Frame(left, 16.0, WIDTH - 16.0, HEIGHT - bottom)
    cell_w = (frame.right - frame.left) / max(len(columns), 1)
    cell_h = (frame.bottom - frame.top) / max(len(rows), 1)
    parts = _open(title)
    for i, row in enumerate(shares):
        for j, share in enumerate(row):
            x0, y0 = frame.left + j * cell_w, frame.top + i * cell_h
            parts.append(
                f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{cell_w:.1f}" height="{cell_h:.1f}" '
                f'fill="{blues(share)}"/>'
            )
            if texts[i][j]:
                colour = "white" if share > 0.6 else "black"
                parts.append(
                    f'<text x="{x0 + cell_w / 2:.1f}" y="{y0 + cell_h / 2 + 4:.1f}" '
                    f'text-anchor="middle" fill="{colour}">{escape(texts[i][j])}</text>'
                )
    for i, label in enumerate(rows):
        y = frame.top + (i + 0.5) * cell_h + 4
        parts.append(
            f'<text x="{frame.left - 6:.1f}" y="{y:.1f}" text-anchor="end">{escape(label)}</text>'
        )
    for j, label in enumerate(columns):
        x, y = frame.left + (j + 0.5) * cell_w, frame.bottom + 10
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" '
            f'transform="rotate(-45 {x:.1f} {y:.1f})">{escape(label)}</text>'
        )
    parts.append(
        f'<rect x="{frame.left:.1f}" y="{frame.top:.1f}" width="{frame.right - frame.left:.1f}" '
        f'height="{frame.bottom - frame.top:.1f}" fill="none" stroke="#333"/>'
    )
    parts += frame.axis_labels(x_label, y_label, x_label_y=HEIGHT - 6)
    return _close(parts)


def blues(share: float) -> str:
    """A colour from near-white (0) to dark blue (1), like matplotlib's `Blues`."""
    share = min(max(share, 0.0), 1.0)
    low, high = (247, 251, 255), (8, 48, 107)
    r, g, b = (round(a + (z - a) * share) for a, z in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


class _Frame:
    """The plot area in pixels and the data ranges it shows."""

    def __init__(self, left: float, top: float, right: float, bottom: float) -> None:
        self.left, self.top, self.right, self.bottom = left, top + 22, right, bottom
        self.x_range = (0.0, 1.0)
        self.y_range = (0.0, 1.0)

    def px(self, x: float, y: float) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        px = self.left + (self.right - self.left) * (x - x0) / ((x1 - x0) or 1)
        py = self.bottom - (self.bottom - self.top) * (y - y0) / ((y1 - y0) or 1)
        return px, py

    def point(self, x: float, y: float) -> str:
        px, py = self.px(x, y)
        return f"{px:.1f},{py:.1f}"

    def axes(
        self, x_ticks: list[float], y_ticks: list[float], x_label: str, y_label: str
    ) -> list[str]:
        width, height = self.right - self.left, self.bottom - self.top
        parts = [
            f'<defs><clipPath id="plot"><rect x="{self.left:.1f}" y="{self.top:.1f}" '
            f'width="{width:.1f}" height="{height:.1f}"/></clipPath></defs>'
        ]
        for tick in x_ticks:
            if not self.x_range[0] - 1e-9 <= tick <= self.x_range[1] + 1e-9:
                continue
            x, _ = self.px(tick, self.y_range[0])
            parts += [
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.top:.1f}" y2="{self.bottom:.1f}" '
                'stroke="#000" stroke-opacity="0.12"/>',
                f'<text x="{x:.1f}" y="{self.bottom + 15:.1f}" text-anchor="middle">'
                f"{_tick(tick)}</text>",
            ]
        for tick in y_ticks:
            if not self.y_range[0] - 1e-9 <= tick <= self.y_range[1] + 1e-9:
                continue
            _, y = self.px(self.x_range[0], tick)
            parts += [
                f'<line x1="{self.left:.1f}" x2="{self.right:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="#000" stroke-opacity="0.12"/>',
                f'<text x="{self.left - 5:.1f}" y="{y + 4:.1f}" text-anchor="end">'
                f"{_tick(tick)}</text>",
            ]
        parts.append(
            f'<rect x="{self.left:.1f}" y="{self.top:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="none" stroke="#333"/>'
        )
        return parts + self.axis_labels(x_label, y_label, x_label_y=self.bottom + 34)

    def axis_labels(self, x_label: str, y_label: str, x_label_y: float) -> list[str]:
        parts = []
        if x_label:
            x = (self.left + self.right) / 2
            parts.append(
                f'<text x="{x:.1f}" y="{x_label_y:.1f}" text-anchor="middle">'
                f"{escape(x_label)}</text>"
            )
        if y_label:
            y = (self.top + self.bottom) / 2
            parts.append(
                f'<text x="14" y="{y:.1f}" text-anchor="middle" transform="rotate(-90 14 {y:.1f})">'
                f"{escape(y_label)}</text>"
            )
        return parts

    def legend(self, entries: list[tuple[str, Series, str]], corner: Corner) -> list[str]:
        if not entries:
            return []
        width = 34 + max(len(label) for label, _, _ in entries) * CHAR_W
        height = 8 + 16 * len(entries)
        x = self.right - width - 6 if corner.endswith("right") else self.left + 6
        y = self.top + 6 if corner.startswith("upper") else self.bottom - height - 6
        parts = [
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height}" fill="white" '
            'fill-opacity="0.85" stroke="#ccc" rx="3"/>'
        ]
        for i, (label, line, colour) in enumerate(entries):
            row = y + 12 + 16 * i
            dash = ' stroke-dasharray="6 4"' if line.dashed else ""
            dash = ' stroke-dasharray="2 3"' if line.dotted else dash
            parts += [
                f'<line x1="{x + 6:.1f}" x2="{x + 26:.1f}" y1="{row:.1f}" y2="{row:.1f}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>',
                f'<text x="{x + 30:.1f}" y="{row + 4:.1f}">{escape(label)}</text>',
            ]
        return parts


def _extent(values: list[float], pad: float = 0.0) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high == low:
        return low - 0.5, high + 0.5
    margin = (high - low) * pad
    return low - margin, high + margin


def _tick(value: float) -> str:
    return f"{value:.6g}"


def _open(title: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> list[str]:
    width, height = size
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="14">'
        f"{escape(title)}</text>",
    ]


def _close(parts: list[str]) -> str:
    return "\n".join([*parts, "</svg>"]) + "\n"
