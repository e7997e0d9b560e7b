"""The report's content as plain tables and lines, shared by the Markdown and HTML renderers.

Each function returns strings only, so both formats show the same numbers the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ftkit.report.model import Report

HEADLINE = (
    "accuracy",
    "f1_macro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
    "invalid_rate",
    "exact_match",
    "normalized_exact_match",
    "token_f1",
)

FBETA = re.compile(r"f\d+(\.\d+)?")


@dataclass(frozen=True)
class Table:
    """A table: header cells and rows of cells, all strings."""

    headers: list[str]
    rows: list[list[str]]


def fmt(value: float | int | None, digits: int = 4) -> str:
    """A number for a table: ints as they are, floats rounded, None as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def signed(value: float | None) -> str:
    """A difference with its sign."""
    return "–" if value is None else f"{value:+.4f}"


def overview(report: Report) -> list[tuple[str, str]]:
    """Key facts of the run, in reading order."""
    job = report.job
    evaluation = report.evaluation
    items = [
        ("experiment", report.experiment),
        ("run", report.run_id),
        ("job status", (job.status if job else None) or "–"),
        ("base model", (job.base_model if job else None) or report.config["job"]["model"]),
        ("fine-tuned model", (job.fine_tuned_model if job else None) or "–"),
        ("job", (job.id if job else None) or "–"),
        ("task", report.task_type or "–"),
        ("evaluated on", f"{report.split} split, {evaluation.n} examples" if evaluation else "–"),
        ("baseline", _baseline_name(report)),
        ("generated", report.generated_at),
    ]
    if job and job.seconds is not None:
        items.insert(6, ("training time", f"{job.seconds:.0f} s"))
    return items


def gate_lines(report: Report) -> tuple[str, list[str]]:
    """The gate verdict (PASS / FAIL / not configured) and its reasons."""
    gate = report.gate
    if gate is None or not gate.configured:
        return "not configured", list(gate.reasons if gate else [])
    verdict = "PASS" if gate.passed else "FAIL"
    if gate.promoted:
        verdict += " — champion"
    return verdict, list(gate.reasons)


def metrics_table(report: Report) -> Table:
    """Headline metrics of the fine-tuned model, with the baseline and the difference."""
    metrics = report.metrics
    names = [name for name in HEADLINE if name in metrics]
    names += sorted(name for name in metrics if FBETA.fullmatch(name) and name not in names)
    deltas = {row.metric: row for row in report.comparison}
    rows = []
    for name in names:
        delta = deltas.get(name)
        mark = ""
        if delta is not None and delta.improved is not None and delta.delta:
            mark = " ▲" if delta.improved else " ▼"
        rows.append(
            [
                name,
                fmt(metrics[name]),
                fmt(delta.baseline if delta else None),
                signed(delta.delta if delta else None) + mark,
            ]
        )
    baseline = "baseline (placeholder)" if report.baseline_placeholder else "baseline"
    return Table(["metric", "fine-tuned", baseline, "Δ"], rows)


REFERENCE_METRICS = ("accuracy", "f1_macro", "roc_auc", "log_loss")


def references_table(report: Report) -> Table | None:
    """The fine-tuned model beside the reference rows (majority class, TF-IDF + LR)."""
    if not report.references or report.evaluation is None:
        return None
    rows = [
        [label, *(fmt(source.metrics.get(name)) for name in REFERENCE_METRICS)]
        for label, source in [("fine-tuned model", report.evaluation)]
        + [(reference.model, reference) for reference in report.references]
    ]
    return Table(["model", *REFERENCE_METRICS], rows)


def _baseline_name(report: Report) -> str:
    if report.baseline is None:
        return "–"
    if report.baseline_placeholder:
        return f"{report.baseline.model} (untrained placeholder)"
    return report.baseline.model


def metrics_records(report: Report) -> list[dict[str, object]]:
    """The metrics table as records (for a Prefect table artifact)."""
    deltas = {row.metric: row for row in report.comparison}
    return [
        {
            "metric": name,
            "fine_tuned": value,
            "baseline": deltas[name].baseline if name in deltas else None,
            "delta": deltas[name].delta if name in deltas else None,
        }
        for name, value in report.metrics.items()
    ]


def per_class_table(report: Report) -> Table | None:
    """Precision, recall, F1 and support per class, for the model and the baseline F1."""
    scores = report.evaluation.classification if report.evaluation else None
    if scores is None:
        return None
    base = report.baseline.classification if report.baseline else None
    base_f1 = {row.label: row.f1 for row in base.per_class} if base else {}
    rows = [
        [
            repr(row.label),
            fmt(row.precision),
            fmt(row.recall),
            fmt(row.f1),
            fmt(base_f1.get(row.label)),
            fmt(row.support),
        ]
        for row in scores.per_class
    ]
    return Table(["class", "precision", "recall", "F1", "baseline F1", "support"], rows)


def confusion_table(report: Report) -> Table | None:
    """The confusion matrix with labelled rows (expected) and columns (predicted)."""
    scores = report.evaluation.classification if report.evaluation else None
    if scores is None:
        return None
    matrix = scores.confusion
    headers = ["expected \\ predicted", *(label.strip() for label in matrix.predicted_labels)]
    rows = [
        [label.strip(), *(fmt(cell) for cell in row)]
        for label, row in zip(matrix.labels, matrix.matrix, strict=True)
    ]
    return Table(headers, rows)


def invalid_table(report: Report) -> Table | None:
    """The most frequent answers that named no class."""
    scores = report.evaluation.classification if report.evaluation else None
    if scores is None or not scores.invalid:
        return None
    return Table(["answer", "count"], [[repr(t), fmt(c)] for t, c in scores.invalid_texts.items()])


def text_table(report: Report) -> Table | None:
    """Free-text length statistics (words) of the references and the answers."""
    text = report.evaluation.text if report.evaluation else None
    if text is None:
        return None
    rows = [
        [name, fmt(s.mean, 1), fmt(s.median, 1), fmt(s.p95, 1), fmt(s.max)]
        for name, s in (("expected", text.expected_length), ("answers", text.predicted_length))
    ]
    return Table(["words", "mean", "median", "p95", "max"], rows)


def training_table(report: Report) -> Table | None:
    """Final and best value of each training series."""
    training = report.training
    if training is None:
        return None
    rows = []
    for name in training.series:
        best = training.best.get(name)
        rows.append(
            [
                name,
                fmt(training.final.get(name)),
                fmt(best.value if best else None),
                str(best.step) if best else "–",
            ]
        )
    return Table(["series", "final", "best", "best at step"], rows)


def server_table(report: Report) -> Table | None:
    """Server-side classification metrics beside the client-side ones."""
    if not report.server_comparison:
        return None
    rows = [
        [
            row.column,
            fmt(row.server),
            row.client_metric or "–",
            fmt(row.client),
            signed(row.difference),
        ]
        for row in report.server_comparison
    ]
    return Table(["server column", "server", "client metric", "client", "client − server"], rows)


def splits_table(report: Report) -> Table | None:
    """Examples and tokens per split."""
    if report.data is None:
        return None
    rows = [
        [
            split.name,
            fmt(split.examples),
            fmt(split.tokens),
            ", ".join(f"{k.strip()}: {v}" for k, v in sorted(split.label_counts.items())),
        ]
        for split in report.data.splits
    ]
    return Table(["split", "examples", "tokens", "labels"], rows)


def findings_table(report: Report) -> Table | None:
    """Data-check findings."""
    if report.data is None or not report.data.findings:
        return None
    rows = [[f.severity, f.code, fmt(f.count), f.message] for f in report.data.findings]
    return Table(["severity", "code", "count", "message"], rows)


def cost_table(report: Report) -> Table | None:
    """The preparation-time estimate against what the job trained."""
    cost = report.cost
    if cost is None:
        return None
    usd = lambda v: "–" if v is None else f"${v:,.4f}"  # noqa: E731
    rows = [
        ["estimated (prepare)", fmt(cost.estimated_tokens), usd(cost.estimated_usd)],
        ["trained (job)", fmt(cost.trained_tokens), usd(cost.trained_usd)],
    ]
    return Table(["", "tokens", "cost"], rows)


def worst_errors_table(report: Report) -> Table | None:
    """The most confident wrong answers."""
    if not report.worst_errors:
        return None
    rows = [
        [
            f"{Path(row.source).name}:{row.source_line}" if row.source else f"split {row.line}",
            row.prompt,
            repr(row.expected),
            repr(row.predicted),
            fmt(row.confidence, 3),
        ]
        for row in report.worst_errors
    ]
    return Table(["line", "prompt", "expected", "predicted", "confidence"], rows)
