"""prepare_dataset: check, fix, split, count and write a dataset in two streaming passes."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import get_args

import numpy as np

from ftkit.config import DataConfig, FixName
from ftkit.data.catalog import context_limit
from ftkit.data.checks import CODE_ORDER, Scan
from ftkit.data.cost import estimate_cost
from ftkit.data.findings import Decisions, dataset_findings, line_findings
from ftkit.data.models import (
    SPLIT_FILES,
    SPLIT_NAMES,
    DataValidationError,
    Finding,
    FixReport,
    PreparedData,
    SplitInfo,
    TaskType,
    TokenStats,
)
from ftkit.data.reading import SourceReader
from ftkit.data.splitting import SKIP, assign_splits
from ftkit.data.tokens import encoding_name
from ftkit.data.writing import PARALLEL_MIN_BYTES, ChunkResult, Plan, SplitWriter, run_chunks
from ftkit.errors import ConfigError

FIX_NAMES: tuple[str, ...] = get_args(FixName)
_FIX_DETAILS = {
    "drop-invalid": "left out lines with errors",
    "drop-duplicates": "left out repeated (prompt, completion) pairs",
    "drop-long": "left out examples over the model's token limit",
    "add-separator": "appended the separator to prompts",
    "add-ending": "appended the stop sequence to completions",
    "add-space": "prefixed completions with a space",
    "strip-prompt-prefix": "removed the common prompt prefix",
    "strip-completion-prefix": "removed the common completion prefix",
    "lowercase": "lowercased text",
}


def prepare_dataset(
    data: DataConfig,
    model: str,
    out_dir: Path,
    *,
    fixes: list[str] | None = None,
    n_epochs: int | None = None,
    parallel: bool | None = None,
) -> PreparedData:
    """Check, fix, split and token-count `data.source` for `model`; write the split files and
    validation.json to `out_dir`.

    fixes: opt-in fix names (default: data.fixes); n_epochs: for the cost estimate (None =
    the provider's auto, 4 assumed); parallel: count tokens in worker processes (None = when
    the file is large enough to pay). Raises DataValidationError (a DataError) after writing
    validation.json when errors remain.
    """
    chosen = _checked_fixes(data.fixes if fixes is None else fixes)
    out_dir = Path(out_dir)
    reader = SourceReader(data.source, data.format, data.columns)
    checks = data.checks

    scan = Scan(max_lines=checks.max_listed_lines)
    for chunk in reader.chunks():
        scan.add_chunk(chunk, reader.lines, reader.unterminated_last_line)
    shape = scan.shape or "prompt_completion"
    task_type: TaskType = scan.task_type() if scan.examples else "conditional_generation"
    findings = _bom_finding(reader) + line_findings(scan, "drop-invalid" in chosen)
    if task_type == "open_ended_generation":  # empty prompts are the norm there
        findings = [f for f in findings if f.code != "empty_prompt"]

    duplicates = scan.duplicate_mask()
    findings += _duplicate_findings(scan, duplicates, "drop-duplicates" in chosen)
    more, decisions = dataset_findings(scan, task_type, chosen)
    findings += more

    keep = ~duplicates if "drop-duplicates" in chosen else np.ones(scan.examples, dtype=bool)
    classification = task_type == "classification"
    stratify = data.split.stratify is True or (data.split.stratify == "auto" and classification)
    stratified = stratify and classification
    fractions = (data.split.train, data.split.validation, data.split.test)
    example_codes = assign_splits(
        scan.prompt_key_array()[keep],
        scan.label_array()[keep] if stratified else None,
        fractions,
        data.split.seed,
    )
    findings += _count_findings(
        scan, example_codes, checks.min_examples, checks.recommended_examples
    )
    if classification:
        findings += _class_split_findings(scan, keep, example_codes)

    line_codes = np.full(reader.lines + 1, SKIP, dtype=np.uint8)
    line_codes[scan.line_numbers()[keep].astype(np.int64)] = example_codes
    encoding = encoding_name(model)
    plan = _plan(
        shape,
        task_type,
        decisions,
        chosen,
        checks.count_tokens,
        encoding,
        model,
        checks.max_listed_lines,
    )
    findings = [f for f in findings if f.code not in checks.disable]
    plan = Plan(**{**plan.__dict__, "write": not _errors(findings)})
    if parallel is None:
        parallel = (
            checks.count_tokens
            and (os.cpu_count() or 1) > 1
            and data.source.stat().st_size >= PARALLEL_MIN_BYTES
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / SPLIT_FILES[name] for name in SPLIT_NAMES]
    writer = SplitWriter(paths, write=plan.write)
    totals = _Totals()
    for result in run_chunks(plan, reader.chunks(), line_codes.tobytes(), parallel=parallel):
        writer.add(result)
        totals.add(result, scan)
    findings += _second_pass_findings(totals, plan)
    findings = [f for f in findings if f.code not in checks.disable]
    written = not _errors(findings)
    hashes = writer.finish([written and n > 0 for n in totals.examples])

    splits = {}
    if written:
        for index, name in enumerate(SPLIT_NAMES):
            if totals.examples[index]:
                splits[name] = SplitInfo(
                    path=str(paths[index]),
                    examples=totals.examples[index],
                    sha256=hashes[index],
                    label_counts=dict(totals.labels[index].most_common()),
                    tokens=totals.tokens[index] if checks.count_tokens else None,
                )
    findings.sort(
        key=lambda f: CODE_ORDER.index(f.code) if f.code in CODE_ORDER else len(CODE_ORDER)
    )
    label_counts = Counter[str]()
    for counter in totals.labels:
        label_counts.update(counter)
    if not label_counts and classification:
        label_counts.update(scan.label_counts())
    billed = totals.tokens[0] if checks.count_tokens else None
    prepared = PreparedData(
        source=str(data.source),
        out_dir=str(out_dir),
        model=model,
        format=shape,
        task_type=task_type,
        lines=reader.lines,
        examples=scan.examples,
        splits=splits,
        split_fractions=dict(zip(SPLIT_NAMES, fractions, strict=True)),
        seed=data.split.seed,
        stratified=stratified,
        classes=sorted(label_counts) if classification else [],
        label_counts=dict(label_counts.most_common()) if classification else {},
        prompt_separator=decisions.prompt_separator,
        completion_stop=decisions.completion_stop,
        max_completion_tokens=totals.max_completion_tokens if checks.count_tokens else None,
        findings=findings,
        errors=_errors(findings),
        warnings=sum(f.severity == "warning" and f.fixed_by is None for f in findings),
        tokens=TokenStats(
            counted=checks.count_tokens,
            encoding=encoding,
            billed_per_epoch=billed,
            total=sum(totals.tokens) if checks.count_tokens else None,
            max_example=totals.max_example_tokens if checks.count_tokens else None,
            context_limit=context_limit(model),
        ),
        cost=estimate_cost(model, billed, n_epochs, data.prices_per_1k_tokens),
        fixes_applied=_fix_reports(chosen, findings, totals, scan, duplicates),
        written=written,
    )
    (out_dir / "validation.json").write_text(prepared.model_dump_json(indent=2), encoding="utf-8")
    if prepared.errors:
        raise DataValidationError(_error_message(prepared), prepared)
    return prepared


class _Totals:
    """Sums of the second pass's chunk results."""

    def __init__(self) -> None:
        self.examples = [0, 0, 0]
        self.tokens = [0, 0, 0]
        self.labels: list[Counter[str]] = [Counter(), Counter(), Counter()]
        self.fixes: Counter[str] = Counter()
        self.max_example_tokens = 0
        self.max_completion_tokens = 0
        self.tally = None

    def add(self, result: ChunkResult, scan: Scan) -> None:
        for index in range(3):
            self.examples[index] += result.examples[index]
            self.tokens[index] += result.tokens[index]
            self.labels[index].update(result.labels[index])
        self.fixes.update(result.fixes)
        self.max_example_tokens = max(self.max_example_tokens, result.max_example_tokens)
        self.max_completion_tokens = max(self.max_completion_tokens, result.max_completion_tokens)
        if self.tally is None:
            self.tally = result.tally
        else:
            self.tally.merge(result.tally)


def _checked_fixes(fixes: list[str]) -> set[str]:
    unknown = [name for name in fixes if name not in FIX_NAMES]
    if unknown:
        msg = (
            f"unknown fix(es) {', '.join(map(repr, unknown))}; choose from {', '.join(FIX_NAMES)}."
        )
        raise ConfigError(msg)
    return set(fixes)


def _errors(findings: list[Finding]) -> int:
    return sum(f.severity == "error" and f.fixed_by is None for f in findings)


def _bom_finding(reader: SourceReader) -> list[Finding]:
    if not reader.bom:
        return []
    return [
        Finding(
            code="bom",
            severity="warning",
            message="The file starts with a UTF-8 byte-order mark; it was skipped. Save the file "
            "as UTF-8 without BOM for other tools.",
            lines=[1],
            count=1,
        )
    ]


def _duplicate_findings(scan: Scan, duplicates: np.ndarray, drop: bool) -> list[Finding]:
    count = int(duplicates.sum())
    if not count:
        return []
    lines = scan.line_numbers()[duplicates][: scan.max_lines]
    return [
        Finding(
            code="duplicates",
            severity="warning",
            message="These examples repeat an earlier (prompt, completion) pair; repeats weigh "
            "them twice in training. Pass --fix drop-duplicates.",
            lines=[int(line) for line in lines],
            count=count,
            fixed_by="drop-duplicates" if drop else None,
        )
    ]


def _count_findings(scan: Scan, codes: np.ndarray, minimum: int, recommended: int) -> list[Finding]:
    kept = len(codes)
    train = int((codes == 0).sum())
    findings = [
        Finding(
            code="examples",
            severity="info",
            message=f"The file has {scan.examples} usable examples ({kept} kept: {train} for "
            "training).",
            count=scan.examples,
        )
    ]
    if train < minimum:
        findings.append(
            Finding(
                code="too_few_examples",
                severity="error",
                message=f"Only {train} training examples; fine-tuning needs at least {minimum} "
                "(the jobs API rejects fewer than 10). Add examples.",
                count=train,
            )
        )
    elif kept < recommended:
        findings.append(
            Finding(
                code="few_examples",
                severity="warning",
                message=f"{kept} examples is few; aim for at least a few hundred: quality grows "
                "roughly linearly with each doubling of the examples.",
                count=kept,
            )
        )
    return findings


def _class_split_findings(scan: Scan, keep: np.ndarray, codes: np.ndarray) -> list[Finding]:
    labels = scan.label_array()[keep]
    names = {index: label for label, index in (scan.labels or {}).items()}
    missing = []
    for split, name in enumerate(SPLIT_NAMES):
        in_split = codes == split
        if not in_split.any():
            continue
        present = set(np.unique(labels[in_split]).tolist())
        absent = [names[i] for i in sorted(set(names) - present)]
        if absent:
            missing.append(f"{name} lacks {', '.join(map(repr, absent[:5]))}")
    if not missing:
        return []
    return [
        Finding(
            code="class_missing_in_split",
            severity="error",
            message="Not every class is in every split (" + "; ".join(missing) + "). Add "
            "examples of those classes, drop them, or change data.split (e.g. no test split).",
        )
    ]


def _plan(
    shape: str,
    task_type: TaskType,
    decisions: Decisions,
    fixes: set[str],
    count_tokens: bool,
    encoding: str,
    model: str,
    max_lines: int,
) -> Plan:
    return Plan(
        shape=shape,  # type: ignore[arg-type]
        encoding=encoding if count_tokens else None,
        context_limit=context_limit(model),
        max_lines=max_lines,
        classification=task_type == "classification",
        drop_long="drop-long" in fixes,
        add_separator=decisions.add_separator,
        add_ending=decisions.add_ending,
        strip_prompt_prefix=decisions.strip_prompt_prefix,
        strip_completion_prefix=decisions.strip_completion_prefix,
        add_space=decisions.add_space,
        lowercase_prompt=decisions.lowercase_prompt,
        lowercase_completion=decisions.lowercase_completion,
        separator=decisions.prompt_separator if decisions.add_separator is None else None,
    )


def _second_pass_findings(totals: _Totals, plan: Plan) -> list[Finding]:
    tally = totals.tally
    if tally is None:
        return []
    findings = []
    if tally.counts["too_long"]:
        finding = tally.finding(
            "too_long",
            "error",
            f"Examples are longer than the {plan.context_limit} tokens the model trains on "
            f"(exact counts: {tally.detail_text('too_long')}); they would be cut, losing the "
            "completion. Shorten them, or pass --fix drop-long.",
        )
        finding.fixed_by = "drop-long" if plan.drop_long else None
        findings.append(finding)
    if tally.counts["maybe_too_long"]:
        finding = tally.finding(
            "maybe_too_long",
            "warning",
            f"Examples have more than {4 * plan.context_limit} characters and are probably over "
            f"the {plan.context_limit}-token limit (tokens were not counted); count tokens to "
            "be sure, or pass --fix drop-long.",
        )
        finding.fixed_by = "drop-long" if plan.drop_long else None
        findings.append(finding)
    if tally.counts["separator_inside_prompt"]:
        findings.append(
            tally.finding(
                "separator_inside_prompt",
                "warning",
                f"The separator {plan.separator!r} also occurs inside these prompts, so the "
                "model may stop reading the prompt early; pick a separator that occurs only "
                "at the end.",
            )
        )
    if plan.encoding is None:
        findings.append(
            Finding(
                code="tokens_not_counted",
                severity="info",
                message="Tokens were not counted (checks.count_tokens=false / --no-tokens): no "
                "exact length check and no cost estimate.",
            )
        )
    return findings


def _fix_reports(
    fixes: set[str], findings: list[Finding], totals: _Totals, scan: Scan, duplicates: np.ndarray
) -> list[FixReport]:
    counts = Counter(totals.fixes)
    if "drop-invalid" in fixes:
        counts["drop-invalid"] = scan.rejected
    if "drop-duplicates" in fixes:
        counts["drop-duplicates"] = int(duplicates.sum())
    return [
        FixReport(name=name, count=counts[name], detail=_FIX_DETAILS[name])
        for name in FIX_NAMES
        if name in fixes
    ]


def _error_message(prepared: PreparedData) -> str:
    parts = []
    for finding in prepared.findings:
        if finding.severity == "error" and finding.fixed_by is None:
            where = f" (lines {_line_list(finding)})" if finding.lines else ""
            parts.append(f"  {finding.code}{where}: {finding.message}")
    remain = "errors remain" if prepared.errors > 1 else "error remains"
    return (
        f"{prepared.source}: {prepared.errors} {remain}; nothing was written but "
        f"{Path(prepared.out_dir) / 'validation.json'}:\n" + "\n".join(parts)
    )


def _line_list(finding: Finding) -> str:
    shown = ", ".join(map(str, finding.lines))
    return shown + (f" … {finding.count} in all" if finding.count > len(finding.lines) else "")
