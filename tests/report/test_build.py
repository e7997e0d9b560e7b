"""Building and rendering a report from a run folder, without any API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ftkit.config import ExperimentConfig
from ftkit.errors import DataError
from ftkit.evaluate.classification import classification_metrics
from ftkit.evaluate.predictions import read_predictions
from ftkit.evaluate.references import MAJORITY, TFIDF
from ftkit.report import (
    SCHEMA_VERSION,
    build_report,
    metrics_records,
    read_report,
    render_html,
    render_markdown,
    summary_markdown,
    write_report,
)
from ftkit.report.plots import available_plots

MakeRun = Callable[..., tuple[Path, ExperimentConfig]]


def test_report_recomputes_metrics_from_the_prediction_files(make_run: MakeRun) -> None:
    """Metrics equal a direct computation on predictions.jsonl; classes lose the stop sequence."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    rows = read_predictions(run_dir / "predictions.jsonl")
    direct = classification_metrics(rows, [" negative", " positive"], betas=[0.5])
    assert report.schema_version == SCHEMA_VERSION
    assert report.evaluation is not None and report.evaluation.classification is not None
    assert report.evaluation.classification.classes == [" negative", " positive"]
    assert report.metrics == direct.flat()
    assert report.evaluation.classification.invalid == 1
    assert "f0.5" in report.metrics


def test_report_compares_with_the_baseline(make_run: MakeRun) -> None:
    """Each metric of the fine-tuned model sits beside the baseline's with the difference."""
    run_dir, config = make_run(provider="openai")
    report = build_report(run_dir, config)
    assert report.baseline is not None and report.baseline.model == "babbage-002"
    accuracy = next(row for row in report.comparison if row.metric == "accuracy")
    assert accuracy.model == report.metrics["accuracy"]
    assert accuracy.delta == pytest.approx(accuracy.model - report.baseline.metrics["accuracy"])
    log_loss = next(row for row in report.comparison if row.metric == "log_loss")
    assert log_loss.improved == (log_loss.model < log_loss.baseline)


def test_report_reads_training_curves_and_server_metrics(make_run: MakeRun) -> None:
    """Loss/accuracy per step, final and best values, and the server's last classification row."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    training = report.training
    assert training is not None
    assert training.steps == [1, 2, 3, 4]
    assert training.series["valid_loss"] == [0.95, None, 0.5, None]
    assert training.final["train_loss"] == 0.3 and training.best["valid_loss"].step == 3
    assert training.server_classification_step == 4
    accuracy = next(r for r in report.server_comparison if r.column == "classification/accuracy")
    assert accuracy.server == 0.8 and accuracy.client == report.metrics["accuracy"]
    f1 = next(r for r in report.server_comparison if r.column == "classification/f1.0")
    assert f1.client_metric == "f1.0"
    assert any("validation split during training" in note for note in report.notes)


def test_report_summarises_data_cost_and_job(make_run: MakeRun) -> None:
    """Data splits, the estimate vs trained tokens and the job facts are in the report."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    assert report.data is not None and [s.name for s in report.data.splits] == ["train", "test"]
    assert report.cost is not None
    assert report.cost.trained_tokens == 35000 and report.cost.estimated_tokens == 36000
    assert report.cost.trained_usd == pytest.approx(35 * 0.0004)
    assert report.job is not None and report.job.seconds == 60


def test_worst_errors_are_the_most_confident_wrong_answers(make_run: MakeRun) -> None:
    """Wrong answers, most confident first; <other> answers (no confidence) come last."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    confidences = [e.confidence for e in report.worst_errors if e.confidence is not None]
    assert confidences == sorted(confidences, reverse=True)
    assert all(e.expected != e.predicted for e in report.worst_errors)


def test_missing_baseline_is_noted(make_run: MakeRun) -> None:
    """Without a baseline the comparison is empty and the reason is a note."""
    run_dir, config = make_run(baseline=False)
    report = build_report(run_dir, config)
    assert report.baseline is None and report.comparison == []
    assert "no baseline comparison: evaluate.baseline is null" in report.notes


def test_report_json_round_trips_and_checks_its_schema_version(make_run: MakeRun) -> None:
    """report.json reads back into an equal Report; another schema version is a clear error."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    write_report(report, run_dir)
    assert read_report(run_dir / "report.json") == report
    old = report.model_dump(mode="json") | {"schema_version": 0}
    (run_dir / "report.json").write_text(json.dumps(old))
    with pytest.raises(DataError, match="schema version 0, this ftkit reads 1"):
        read_report(run_dir / "report.json")


def test_markdown_has_every_section_and_links_the_written_plots(make_run: MakeRun) -> None:
    """report.md holds the gate, metrics, per-class table, training and links to plots/*.svg,
    each a well-formed SVG document titled as the markdown names it."""
    run_dir, config = make_run(gate={"metric": "f1_macro", "min": 0.5})
    report = build_report(run_dir, config)
    paths = write_report(report, run_dir)
    markdown = paths.markdown.read_text()
    for heading in (
        "## Quality gate: PASS",
        "## Metrics",
        "## Per class",
        "## Confusion matrix",
        "## Worst errors",
        "## Training",
        "## Data",
        "## Cost",
        "## Plots",
    ):
        assert heading in markdown
    for plot in paths.plots:
        assert f"](plots/{plot.name})" in markdown
        document = ElementTree.fromstring(plot.read_bytes())
        assert document.tag == "{http://www.w3.org/2000/svg}svg"
        title = next(p.title for p in available_plots(report) if p.name == plot.stem)
        assert title in ElementTree.tostring(document, encoding="unicode")
    assert {p.stem for p in paths.plots} == {
        "loss",
        "accuracy",
        "confusion",
        "roc",
        "pr",
        "reliability",
    }
    assert render_markdown(report) == markdown  # pure: same report, same text


def test_html_is_self_contained(make_run: MakeRun) -> None:
    """report.html embeds every plot as a data: URI and links no external resource."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    html = render_html(report)
    assert html.count("src='data:image/svg+xml;base64,") == 6
    assert "http://" not in html and "https://" not in html
    for section in (
        "overview",
        "gate",
        "metrics",
        "plots",
        "per-class",
        "confusion",
        "errors",
        "training",
        "data",
        "cost",
        "config",
    ):
        assert f"id='{section}'" in html


def test_prefect_artifact_helpers(make_run: MakeRun) -> None:
    """A short markdown summary and the metrics as records, for the flow's artifacts."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    summary = summary_markdown(report)
    assert summary.startswith("# Report: sentiment / run1") and "## Metrics" in summary
    records = metrics_records(report)
    assert {"metric", "fine_tuned", "baseline", "delta"} == set(records[0])
    json.dumps(records)  # JSON-able as a table artifact needs


def test_report_of_a_run_without_evaluation(make_run: MakeRun) -> None:
    """A run stopped before evaluation still gets a report, with notes saying what is missing."""
    run_dir, config = make_run()
    (run_dir / "evaluation.json").unlink()
    report = build_report(run_dir, config)
    assert report.evaluation is None and report.metrics == {}
    assert any("no evaluation" in note for note in report.notes)
    assert "## Training" in render_markdown(report)


def test_a_placeholder_baseline_is_named_and_shows_no_gains(make_run: MakeRun) -> None:
    """The embedded backend's base model is an untrained placeholder: said in words, no ▲/▼."""
    run_dir, config = make_run()  # provider local, baseline "base"
    report = build_report(run_dir, config)
    assert report.baseline_placeholder and "untrained placeholder" in report.baseline_placeholder
    assert report.comparison and all(row.delta is None for row in report.comparison)
    markdown = render_markdown(report)
    assert "▲" not in markdown and "▼" not in markdown
    assert "babbage-002 (untrained placeholder)" in markdown
    assert "baseline (placeholder)" in markdown
    assert report.baseline_placeholder in report.notes


def test_reference_rows_score_majority_class_and_tfidf_on_the_same_examples(
    make_run: MakeRun,
) -> None:
    """Majority class and TF-IDF + LR, fitted on prepared/train.jsonl, answer the test split."""
    run_dir, config = make_run()
    report = build_report(run_dir, config)
    by_name = {reference.model: reference for reference in report.references}
    assert set(by_name) == {MAJORITY, TFIDF}
    assert all(reference.n == 40 for reference in by_name.values())
    assert by_name[MAJORITY].metrics["accuracy"] == pytest.approx(0.5)  # the test split is balanced
    assert by_name[MAJORITY].metrics["roc_auc"] == pytest.approx(0.5)
    assert by_name[TFIDF].metrics["accuracy"] > 0.6  # words lean 70% towards the label
    markdown = render_markdown(report)
    assert "## Reference rows (same examples)" in markdown and TFIDF in markdown


def test_reference_answers_are_fitted_once_per_split_content(
    make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second report on the same split files reads the TF-IDF answers from the experiment's
    cache (same rows, no fit); changed split content is fitted anew."""
    from ftkit.evaluate import references

    run_dir, config = make_run()
    first = build_report(run_dir, config).references
    fits: list[int] = []
    fit = references.reference_predictions
    monkeypatch.setattr(references, "reference_predictions", lambda *a: fits.append(1) or fit(*a))
    assert build_report(run_dir, config).references == first and not fits
    train = run_dir / "prepared" / "train.jsonl"
    train.write_text("".join(reversed(train.read_text().splitlines(keepends=True))))
    build_report(run_dir, config)
    assert fits == [1]


def test_worst_errors_point_at_the_users_file_and_line(make_run: MakeRun) -> None:
    """With prepared/source_lines.npz, an error names data.jsonl and its line there."""
    import numpy as np

    run_dir, config = make_run()
    test_lines = np.arange(1001, 1041, dtype=np.uint32)  # test examples came from 1001…1040
    np.savez_compressed(run_dir / "prepared" / "source_lines.npz", test=test_lines)
    report = build_report(run_dir, config)
    assert report.worst_errors
    for error in report.worst_errors:
        assert error.source is not None and error.source.endswith("data.jsonl")
        assert error.source_line == 1000 + error.line
    first = report.worst_errors[0]
    assert f"data.jsonl:{first.source_line}" in render_markdown(report)
