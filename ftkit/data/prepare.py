"""prepare_dataset: check, fix, split, count and write a dataset in two streaming passes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import get_args

import numpy as np

from ftkit.config import DataConfig, FixName
from ftkit.data.catalog import context_limit, model_fit_problem
from ftkit.data.checks import (
    LONG,
    VERBATIM,
    Scan,
    ScanOptions,
    detect_file_shape,
    scan_chunk,
)
from ftkit.data.cost import estimate_cost
from ftkit.data.findings import (
    CODE_ORDER,
    bom_finding,
    class_split_findings,
    conflicting_label_findings,
    count_findings,
    dataset_findings,
    duplicate_findings,
    file_findings,
    length_findings,
    line_findings,
    overlap_findings,
)
from ftkit.data.models import (
    SOURCE_LINES_FILE,
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
from ftkit.data.reading import Chunk, SourceReader
from ftkit.data.splitting import SKIP, VALIDATION, assign_splits
from ftkit.data.tokens import encoding_name
from ftkit.data.workers import PARALLEL_MIN_BYTES, map_in_order
from ftkit.data.writing import ChunkResult, Plan, SplitWriter, fix_completion, process_chunk
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
    dialect: str | None = None,
) -> PreparedData:
    """Check, fix, split and token-count `data.source` for `model`; write the split files and
    validation.json to `out_dir`.

    With `data.validation_source`, that file becomes the validation split (checked the same
    way) and `data.source` is split into train and test only. fixes: opt-in fix names
    (default: data.fixes); n_epochs: for the cost estimate (None = the provider's auto, 4
    assumed); parallel: one worker process per core (None = when a file is large enough to
    pay); dialect: the provider's; when given, it and the model are checked against the data's
    format (an error finding says which model or dialect fits). Raises DataValidationError (a DataError) after writing validation.json when errors
    remain.
    """
    chosen = _checked_fixes(data.fixes if fixes is None else fixes)
    out_dir = Path(out_dir)
    checks = data.checks
    encoding = encoding_name(model)
    first = SourceReader(data.source, data.format, data.columns)
    options = ScanOptions(
        shape=detect_file_shape(first.chunks()),
        max_lines=checks.max_listed_lines,
        encoding=encoding if checks.count_tokens else None,
        context_limit=context_limit(model),
    )

    # First pass over each file: every check, with running aggregates.
    main, findings = _first_pass(first, options, chosen, parallel)
    parts = [main]
    scan = main.scan
    task_type: TaskType = scan.task_type() if scan.examples else "conditional_generation"
    if task_type == "open_ended_generation":  # empty prompts are the norm there
        findings = [f for f in findings if f.code != "empty_prompt"]
    more, decisions = dataset_findings(scan, task_type, chosen)
    findings += more
    if task_type == "classification":
        findings += conflicting_label_findings(scan)
    misfit = model_fit_problem(scan.shape, model, dialect) if dialect else None
    if misfit is not None:
        findings.append(Finding(code="model_data_mismatch", severity="error", message=misfit))
    classification = task_type == "classification"
    stratify = data.split.stratify is True or (data.split.stratify == "auto" and classification)
    stratified = stratify and classification
    fractions = (data.split.train, data.split.validation, data.split.test)
    if data.validation_source is not None:
        reader = SourceReader(data.validation_source, data.format, data.columns)
        held, held_findings = _first_pass(reader, options, chosen, parallel)
        for finding in held_findings:
            finding.source = str(data.validation_source)
        findings += held_findings + overlap_findings(
            main.scan, main.keep, held.scan, held.keep, str(data.validation_source)
        )
        held.codes = np.full(int(held.keep.sum()), VALIDATION, dtype=np.uint8)
        parts.append(held)
        fractions = (data.split.train, 0.0, data.split.test)
        fractions = (fractions[0] / sum(fractions), 0.0, fractions[2] / sum(fractions))

    # Split what is kept.
    main.codes = assign_splits(
        scan.prompt_key_array()[main.keep],
        scan.label_array()[main.keep] if stratified else None,
        fractions,
        data.split.seed,
    )
    all_codes = np.concatenate([part.codes for part in parts])
    findings += count_findings(scan, all_codes, checks.min_examples, checks.recommended_examples)
    if classification:
        findings += class_split_findings(_split_labels(parts, lambda label: label))
    findings = [f for f in findings if f.code not in checks.disable]
    written = not _errors(findings)

    # Second pass: write (clean lines are copied as they are unless a fix changes text).
    plan = Plan(scan.shape, written, fixes=decisions.fixes)
    recount = checks.count_tokens and plan.rewrites
    plan = replace(plan, encoding=encoding if recount else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / SPLIT_FILES[name] for name in SPLIT_NAMES]
    totals = _Totals()
    with SplitWriter(paths, write=written) as writer:
        if written:
            for part in parts:
                for result in _second_pass(part, plan, parallel):
                    writer.add(result)
                    totals.add(result)
        for part in parts:
            part.reader.check_unchanged()
        hashes = writer.finish([written and n > 0 for n in totals.examples])
    if written:
        _write_source_lines(out_dir, parts)
    if checks.count_tokens and not recount:
        totals.tokens = [0, 0, 0]
        for part in parts:
            tokens = part.scan.token_array()
            for split, value in enumerate(_per_split(tokens[part.keep], part.codes)):
                totals.tokens[split] += value
            totals.max_example_tokens = max(totals.max_example_tokens, int(tokens.max(initial=0)))
            totals.max_completion_tokens = max(
                totals.max_completion_tokens, part.scan.max_completion_tokens
            )
    if classification:
        split_labels = _split_labels(parts, lambda label: fix_completion(plan.fixes, label))
    else:
        split_labels = [{}, {}, {}]

    splits = {}
    if written:
        for index, name in enumerate(SPLIT_NAMES):
            if totals.examples[index]:
                splits[name] = SplitInfo(
                    path=str(paths[index]),
                    examples=totals.examples[index],
                    sha256=hashes[index],
                    label_counts=split_labels[index],
                    tokens=totals.tokens[index] if checks.count_tokens else None,
                )
    findings.sort(
        key=lambda f: CODE_ORDER.index(f.code) if f.code in CODE_ORDER else len(CODE_ORDER)
    )
    label_counts = Counter[str]()
    for counts in split_labels:
        label_counts.update(counts)
    billed = totals.tokens[0] if checks.count_tokens else None
    prepared = PreparedData(
        source=str(data.source),
        validation_source=str(data.validation_source) if data.validation_source else None,
        out_dir=str(out_dir),
        model=model,
        format=scan.shape,
        task_type=task_type,
        lines=sum(part.reader.lines for part in parts),
        examples=sum(part.scan.examples for part in parts),
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
            context_limit=options.context_limit,
        ),
        cost=estimate_cost(model, billed, n_epochs, data.prices_per_1k_tokens),
        fixes_applied=_fix_reports(chosen, totals, parts),
        written=written,
    )
    (out_dir / "validation.json").write_text(prepared.model_dump_json(indent=2), encoding="utf-8")
    if prepared.errors:
        raise DataValidationError(_error_message(prepared), prepared)
    return prepared


@dataclass
class _Part:
    """One input file after the first pass: what is kept and, once split, where it goes."""

    reader: SourceReader
    spans: list[Chunk]  # JSONL: every chunk, without its bytes; empty for other formats
    scan: Scan
    duplicates: np.ndarray
    keep: np.ndarray
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))


def _first_pass(
    reader: SourceReader, options: ScanOptions, fixes: set[str], parallel: bool | None
) -> tuple[_Part, list[Finding]]:
    """Scan one file (in worker processes when it pays) and list its per-line findings."""
    if parallel is None:
        parallel = reader.path.stat().st_size >= PARALLEL_MIN_BYTES
    scan = Scan(options)
    spans: list[Chunk] = []  # JSONL chunks without their bytes, read back by the second pass

    def jobs() -> Iterator[tuple[Chunk, int, bool]]:
        for chunk in reader.chunks(detached=parallel):
            if chunk.span is not None:
                spans.append(chunk.detached())
            yield chunk, reader.lines, reader.unterminated_last_line

    for part in map_in_order(scan_chunk, options, jobs(), parallel=parallel):
        scan.merge(part)
    duplicates = scan.duplicate_mask()
    keep = np.ones(scan.examples, dtype=bool)
    if "drop-duplicates" in fixes:
        keep &= ~duplicates
    if "drop-long" in fixes:
        keep &= (scan.flag_array() & LONG) == 0
    findings = file_findings(reader) + bom_finding(reader.bom)
    findings += line_findings(scan, "drop-invalid" in fixes)
    findings += duplicate_findings(scan, duplicates, "drop-duplicates" in fixes)
    findings += length_findings(scan, "drop-long" in fixes)
    return _Part(reader, spans, scan, duplicates, keep), findings


def _second_pass(part: _Part, plan: Plan, parallel: bool | None) -> Iterator[ChunkResult]:
    """Write one file's kept examples to their splits; chunk results in file order."""
    line_codes = np.full(part.reader.lines + 1, SKIP, dtype=np.uint8)
    flags = part.scan.flag_array()[part.keep] & VERBATIM
    line_codes[part.scan.line_numbers()[part.keep].astype(np.int64)] = part.codes | flags
    code_bytes = line_codes.tobytes()
    if parallel is None:
        parallel = part.reader.path.stat().st_size >= PARALLEL_MIN_BYTES
    # JSONL chunks are read back from their spans; other formats are read again.
    chunks = part.spans if part.reader.format == "jsonl" else part.reader.chunks()
    jobs = ((chunk, code_bytes[chunk.first_line : chunk.last_line + 1]) for chunk in chunks)
    return map_in_order(process_chunk, plan, jobs, parallel=parallel and plan.rewrites)


class _Totals:
    """Sums of the second pass's chunk results."""

    def __init__(self) -> None:
        self.examples = [0, 0, 0]
        self.tokens = [0, 0, 0]
        self.fixes: Counter[str] = Counter()
        self.max_example_tokens = 0
        self.max_completion_tokens = 0

    def add(self, result: ChunkResult) -> None:
        for index in range(3):
            self.examples[index] += result.examples[index]
            self.tokens[index] += result.tokens[index]
        self.fixes.update(result.fixes)
        self.max_example_tokens = max(self.max_example_tokens, result.max_example_tokens)
        self.max_completion_tokens = max(self.max_completion_tokens, result.max_completion_tokens)


def _per_split(values: np.ndarray, codes: np.ndarray) -> list[int]:
    return [int(values[codes == split].sum()) for split in range(3)]


def _split_labels(parts: list[_Part], rename: Callable[[str], str]) -> list[dict[str, int]]:
    """Examples per label and split over all files, labels renamed (e.g. as written)."""
    totals: list[Counter[str]] = [Counter(), Counter(), Counter()]
    for part in parts:
        labels = part.scan.label_array()[part.keep]
        names = {index: rename(label) for label, index in (part.scan.labels or {}).items()}
        for split in range(3):
            counts = np.bincount(labels[part.codes == split], minlength=len(names))
            totals[split].update({names[i]: int(n) for i, n in enumerate(counts) if n})
    return [dict(counts.most_common()) for counts in totals]


def _write_source_lines(out_dir: Path, parts: list[_Part]) -> None:
    """prepared/source_lines.npz: for each split, the source file line of each example it holds
    (its file order), so a report can point at the user's line rather than the split's."""
    lines: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    for part in parts:
        kept = part.scan.line_numbers()[part.keep]
        for index, name in enumerate(SPLIT_NAMES):
            lines[name].append(kept[part.codes == index])
    arrays = {name: np.concatenate(chunks) for name, chunks in lines.items()}
    np.savez_compressed(out_dir / SOURCE_LINES_FILE, **arrays)  # type: ignore[arg-type]


def _checked_fixes(fixes: Sequence[str]) -> set[str]:
    unknown = [name for name in fixes if name not in FIX_NAMES]
    if unknown:
        msg = (
            f"unknown fix(es) {', '.join(map(repr, unknown))}; choose from {', '.join(FIX_NAMES)}."
        )
        raise ConfigError(msg)
    return set(fixes)


def _errors(findings: list[Finding]) -> int:
    return sum(f.severity == "error" and f.fixed_by is None for f in findings)


def _fix_reports(fixes: set[str], totals: _Totals, parts: list[_Part]) -> list[FixReport]:
    counts = Counter(totals.fixes)
    for part in parts:
        counts["drop-invalid"] += part.scan.rejected
        counts["drop-duplicates"] += int(part.duplicates.sum())
        long = (part.scan.flag_array() & LONG) != 0
        if "drop-duplicates" in fixes:
            long &= ~part.duplicates
        counts["drop-long"] += int(long.sum())
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
