"""The loss chart the Prefect UI shows while a job trains: points from events, drawn as SVG."""

from __future__ import annotations

import base64
import re

from ftkit.report.loss_chart import loss_chart_markdown, loss_chart_svg, loss_point, loss_points


def test_points_come_from_event_data_or_from_the_legacy_message() -> None:
    data = {"step": 30, "total_steps": 1440, "train_loss": 1.37, "valid_loss": 1.5}
    assert loss_point("Step 30/1440: training loss=1.37", data) == loss_point(
        "Step 30/1440: training loss=1.37, validation loss=1.50", None
    )
    assert loss_point("Step 30/1440: training loss=1.37", data) is not None
    assert loss_point("Fine-tuning job started", None) is None
    assert loss_point("Step 3/10 queued", None) is None  # a step without any loss


def test_points_are_in_step_order_and_skip_other_events() -> None:
    events = [
        {"message": "Step 20/40: training loss=0.50"},
        {"message": "Files validated"},
        {"message": "Step 10/40: training loss=0.90, validation loss=1.10"},
    ]
    assert [(p.step, p.train, p.valid) for p in loss_points(events)] == [
        (10, 0.9, 1.1),
        (20, 0.5, None),
    ]


def test_the_chart_draws_one_line_per_loss_across_all_steps() -> None:
    points = loss_points(
        {"message": f"Step {s}/40: training loss={1 / s:.3f}, validation loss={2 / s:.3f}"}
        for s in (10, 20, 30)
    )
    svg = loss_chart_svg(points, "Loss: demo <run>")
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert [len(line.split()) for line in lines] == [3, 3]
    assert "Loss: demo &lt;run&gt;" in svg
    assert "training loss (last 0.033)" in svg and "validation loss (last 0.067)" in svg


def test_markdown_embeds_the_svg_as_a_data_uri_image() -> None:
    points = loss_points([{"message": "Step 5/10: training loss=0.40"}])
    markdown = loss_chart_markdown(points, "Loss")
    alt, uri = re.fullmatch(r"!\[(.*)\]\(data:image/svg\+xml;base64,(.*)\)", markdown).groups()  # type: ignore[union-attr]
    assert alt == "Loss: step 5/10"
    assert base64.b64decode(uri).decode() == loss_chart_svg(points, "Loss")
    assert loss_chart_markdown([], "Loss") == "_No loss reported yet._"
