"""The SVG charts behind the report's plots and the dashboard's loss chart."""

from __future__ import annotations

from xml.etree import ElementTree

from ftkit.report.svg import Axis, Series, blues, heatmap, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def test_ticks_are_round_steps_inside_the_range() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.3, 2.7) == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert nice_ticks(1, 1440, 6) == [200, 400, 600, 800, 1000, 1200, 1400]


def test_a_line_chart_is_a_valid_document_with_one_line_per_series_and_escaped_labels() -> None:
    lines = [
        Series([0, 1, 2], [1.0, 0.5, 0.25], "loss <train>"),
        Series([0, 2], [1.2, 0.4], "valid & more", dashed=True),
    ]
    document = ElementTree.fromstring(line_chart("Loss", lines, Axis("step"), Axis()))
    polylines = document.findall(f".//{SVG}polyline")
    assert [len(p.get("points", "").split()) for p in polylines] == [3, 2]
    assert polylines[1].get("stroke-dasharray")
    texts = [t.text for t in document.iter(f"{SVG}text")]
    assert "loss <train>" in texts and "valid & more" in texts and "Loss" in texts


def test_a_heatmap_shades_each_cell_by_its_share_and_prints_its_count() -> None:
    svg = heatmap("M", [[0.9, 0.1], [0.0, 1.0]], [["9", "1"], ["0", "5"]], "ab", "ab", "p", "e")
    document = ElementTree.fromstring(svg)
    fills = [r.get("fill") for r in document.iter(f"{SVG}rect")]
    assert [blues(0.9), blues(0.1), blues(0.0), blues(1.0)] == fills[1:5]
    assert blues(0.0) == "#f7fbff" and blues(1.0) == "#08306b"
    assert {"9", "1", "0", "5"} <= {t.text for t in document.iter(f"{SVG}text")}
