"""Build the Report of a run from its folder alone: no API call, so it can be rebuilt any time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ftkit.config import ExperimentConfig
from ftkit.data.models import SOURCE_LINES_FILE, PreparedData
from ftkit.errors import DataError
from ftkit.evaluate.classes import OTHER
from ftkit.evaluate.metrics import ModelEvaluation, class_labels, evaluate_predictions, is_better
from ftkit.evaluate.predictions import (
    BASELINE_PREDICTIONS_FILE,
    PREDICTIONS_FILE,
    Prediction,
    read_predictions,
)
from ftkit.evaluate.references import cached_reference_predictions, placeholder_baseline
from ftkit.evaluate.runner import EVALUATION_FILE, EvaluationResult, load_examples, load_prepared
from ftkit.evaluate.text import token_f1
from ftkit.evaluate.training import TrainingSummary, compare_with_server, training_summary
from ftkit.report.gate import decide_gate, read_champion
from ftkit.report.model import (
    CostSummary,
    DataSummary,
    FindingSummary,
    JobSummary,
    MetricDelta,
    Report,
    SplitSummary,
    WorstError,
)
from ftkit.results import full_validation_points, parse_results
from ftkit.runs.atomic import read_json
from ftkit.runs.events import EventLog

WORST_ERRORS = 10
REFERENCES_CACHE = ".references"
"""The experiment folder's cache of reference answers (shared by its runs on the same data)."""
PROMPT_CHARS = 400


def build_report(run_dir: Path, config: ExperimentConfig) -> Report:
    """Everything about a run, from its folder: data, job, training curves, metrics, gate.

    Parts whose files are missing (no job yet, no evaluation) are left empty and noted. The
    gate is decided against the current champion but nothing is promoted (see `apply_gate`).
    """
    run = _read_optional_json(run_dir / "run.json") or {}
    prepared = (
        load_prepared(run_dir) if (run_dir / "prepared" / "validation.json").is_file() else None
    )
    job = _read_optional_json(run_dir / "job.json")
    evaluation = _read_evaluation(run_dir)
    notes: list[str] = []

    report = Report(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        experiment=str(run.get("experiment") or config.name),
        run_id=str(run.get("run_id") or run_dir.name),
        status=run.get("status"),
        config=config.model_dump(mode="json"),
        job=_job_summary(job) if job else None,
        data=_data_summary(prepared) if prepared else None,
        cost=_cost_summary(prepared, job) if prepared else None,
        training=_training(run_dir, notes),
        task_type=prepared.task_type if prepared else None,
        split=evaluation.split if evaluation else None,
    )
    if prepared is None:
        notes.append("no prepared/validation.json: the data summary is missing")
    elif prepared.moderation is not None and prepared.moderation.flagged:
        action = {"drop": "dropped before upload", "warn": "uploaded anyway"}.get(
            prepared.moderation.on_flagged, "the run stopped before upload"
        )
        notes.append(f"{prepared.moderation.summary()} ({action})")
    if evaluation is None or prepared is None:
        notes.append("no evaluation in this run folder (evaluation.json, predictions.jsonl)")
    else:
        _add_evaluation(report, run_dir, config, prepared, evaluation, notes)
    if report.training and report.training.server_classification:
        report.server_comparison = compare_with_server(
            report.training.server_classification, report.metrics
        )
        if report.split != "validation":
            notes.append(
                "server-side classification/* metrics come from the validation split during "
                f"training; the client-side ones from the {report.split or 'evaluation'} split"
            )
    report.gate = decide_gate(
        config.evaluate.gate, report.metrics, read_champion(run_dir.parent), report.run_id
    )
    report.notes = notes
    return report


def _add_evaluation(
    report: Report,
    run_dir: Path,
    config: ExperimentConfig,
    prepared: PreparedData,
    evaluation: EvaluationResult,
    notes: list[str],
) -> None:
    classes = class_labels(prepared)
    options: dict[str, Any] = {
        "classes": classes,
        "positive_class": config.job.classification.positive_class,
        "betas": config.job.classification.betas or (),
    }
    rows = read_predictions(run_dir / PREDICTIONS_FILE)
    report.evaluation = evaluate_predictions(
        rows, model=evaluation.model, predictions_file=PREDICTIONS_FILE, **options
    )
    baseline_path = run_dir / BASELINE_PREDICTIONS_FILE
    if evaluation.baseline_model and baseline_path.is_file():
        report.baseline = evaluate_predictions(
            read_predictions(baseline_path),
            model=evaluation.baseline_model,
            predictions_file=BASELINE_PREDICTIONS_FILE,
            **options,
        )
        report.baseline_placeholder = placeholder_baseline(config, evaluation.baseline_model)
        report.comparison = _comparison(
            report.evaluation, report.baseline, deltas=report.baseline_placeholder is None
        )
        if report.baseline_placeholder:
            notes.append(report.baseline_placeholder)
    elif evaluation.baseline_skipped:
        notes.append(f"no baseline comparison: {evaluation.baseline_skipped}")
    if classes:
        try:
            report.references = _references(run_dir, prepared, evaluation.split, options)
        except OSError as exc:
            notes.append(f"no reference rows: the prepared split files are unreadable ({exc})")
    report.worst_errors = _worst_errors(rows, bool(classes), prepared.prompt_separator)
    _point_at_sources(report.worst_errors, run_dir, prepared, evaluation.split)
    scores = report.evaluation.classification
    if scores is None:
        return
    if scores.n_scored == 0:
        notes.append(
            "no class probabilities (the answers carried no logprobs): ROC, PR, reliability, "
            "log loss and Brier score are left out"
        )
    if scores.floored_rate:
        notes.append(
            f"{scores.floored_rate:.1%} of examples had a class outside the top-"
            f"{evaluation.logprobs} logprobs; it got the floor probability (see ftkit.evaluate.classes)"
        )
    if scores.mean_class_mass is not None and scores.mean_class_mass < 0.9:
        notes.append(
            f"on average {scores.mean_class_mass:.1%} of the first-token probability fell on "
            "the classes; probabilities are renormalised over the classes"
        )


def _comparison(
    model: ModelEvaluation, baseline: ModelEvaluation, deltas: bool
) -> list[MetricDelta]:
    """Each metric beside the baseline's; the differences only when `deltas`."""
    rows = []
    for metric, value in model.metrics.items():
        theirs = baseline.metrics.get(metric)
        compared = deltas and theirs is not None
        rows.append(
            MetricDelta(
                metric=metric,
                model=value,
                baseline=theirs,
                delta=value - theirs if compared and theirs is not None else None,
                improved=is_better(metric, value, theirs)
                if compared and theirs is not None
                else None,
            )
        )
    return rows


def _references(
    run_dir: Path, prepared: PreparedData, split: str, options: dict[str, Any]
) -> list[ModelEvaluation]:
    """The reference rows, scored on the evaluation split (none without a training split)."""
    if "train" not in prepared.splits:
        return []
    test = load_examples(run_dir, prepared, split)
    train = load_examples(run_dir, prepared, "train")
    cache = run_dir.parent / REFERENCES_CACHE
    answers = cached_reference_predictions(train, test, options["classes"], cache)
    return [
        evaluate_predictions(rows, model=name, predictions_file="", **options)
        for name, rows in answers.items()
    ]


def _point_at_sources(
    errors: list[WorstError], run_dir: Path, prepared: PreparedData, split: str
) -> None:
    """Give each error the file and line of the user's data it came from (when recorded)."""
    path = run_dir / "prepared" / SOURCE_LINES_FILE
    if not errors or not path.is_file():
        return
    with np.load(path) as arrays:
        lines = arrays[split] if split in arrays.files else np.zeros(0, np.uint32)
    source = (
        prepared.validation_source
        if split == "validation" and prepared.validation_source
        else prepared.source
    )
    for error in errors:
        if 0 < error.line <= len(lines):
            error.source, error.source_line = source, int(lines[error.line - 1])


def _worst_errors(
    rows: Sequence[Prediction], classification: bool, separator: str | None
) -> list[WorstError]:
    if classification:
        wrong = [row for row in rows if row.predicted != row.expected]

        def confidence(row: Prediction) -> float | None:
            if row.probabilities is None or row.predicted == OTHER:
                return None
            return row.probabilities.get(row.predicted)

        ranked = sorted(wrong, key=lambda row: -(confidence(row) or -1.0))
    else:
        wrong = [row for row in rows if row.predicted.strip() != row.expected.strip()]
        ranked = sorted(wrong, key=lambda row: token_f1(row.predicted, row.expected))

        def confidence(row: Prediction) -> float | None:
            return None

    return [
        WorstError(
            index=row.index,
            line=row.line,
            prompt=_clip(row.prompt.removesuffix(separator) if separator else row.prompt),
            expected=row.expected,
            predicted=row.predicted,
            text=_clip(row.text),
            confidence=confidence(row),
        )
        for row in ranked[:WORST_ERRORS]
    ]


def _training(run_dir: Path, notes: list[str]) -> TrainingSummary | None:
    files = sorted((run_dir / "results").glob("*.csv"))
    if not files:
        notes.append("no result file in results/: training curves are missing")
        return None
    table = parse_results(files[0].read_bytes())
    if not table.rows:
        notes.append(f"the result file {files[0].name} has no rows")
        return None
    rows = list(table.rows)
    if not any("full_valid_loss" in row for row in rows):
        events = EventLog(run_dir / "events.jsonl", run_dir / "cursor.json").events()
        rows += full_validation_points(events)
    return training_summary(rows)


def _data_summary(prepared: PreparedData) -> DataSummary:
    return DataSummary(
        source=prepared.source,
        format=prepared.format,
        task_type=prepared.task_type,
        examples=prepared.examples,
        splits=[
            SplitSummary(
                name=name,
                examples=info.examples,
                tokens=info.tokens,
                label_counts=info.label_counts,
            )
            for name, info in prepared.splits.items()
        ],
        classes=prepared.classes,
        label_counts=prepared.label_counts,
        errors=prepared.errors,
        warnings=prepared.warnings,
        findings=[
            FindingSummary(
                code=finding.code,
                severity=finding.severity,
                message=finding.message,
                count=finding.count,
            )
            for finding in prepared.findings
        ],
        fixes_applied=[f"{fix.name} ({fix.count})" for fix in prepared.fixes_applied],
    )


def _cost_summary(prepared: PreparedData, job: dict[str, Any] | None) -> CostSummary:
    cost = prepared.cost
    trained = (job or {}).get("trained_tokens")
    price = cost.price_per_1k_tokens
    return CostSummary(
        model=cost.model,
        n_epochs=cost.n_epochs,
        price_per_1k_tokens=price,
        price_source=cost.price_source,
        estimated_tokens=cost.billed_tokens,
        estimated_usd=cost.usd,
        trained_tokens=trained,
        trained_usd=None if trained is None or price is None else trained / 1000 * price,
        ratio=trained / cost.billed_tokens if trained and cost.billed_tokens else None,
        note=cost.note,
    )


def _job_summary(job: dict[str, Any]) -> JobSummary:
    created, finished = job.get("created_at"), job.get("finished_at")
    return JobSummary(
        id=job.get("id"),
        base_model=job.get("model"),
        fine_tuned_model=job.get("fine_tuned_model"),
        status=job.get("status"),
        hyperparameters=job.get("hyperparameters") or {},
        trained_tokens=job.get("trained_tokens"),
        seconds=float(finished - created) if created and finished else None,
    )


def _read_evaluation(run_dir: Path) -> EvaluationResult | None:
    path = run_dir / EVALUATION_FILE
    if not path.is_file() or not (run_dir / PREDICTIONS_FILE).is_file():
        return None
    try:
        return EvaluationResult.model_validate_json(path.read_bytes())
    except ValueError as exc:
        msg = f"{path}: not an evaluation record ({exc}); re-run the evaluation."
        raise DataError(msg) from None


def _read_optional_json(path: Path) -> dict[str, Any] | None:
    return read_json(path) if path.is_file() else None


def _clip(text: str) -> str:
    return text if len(text) <= PROMPT_CHARS else text[: PROMPT_CHARS - 1] + "…"
