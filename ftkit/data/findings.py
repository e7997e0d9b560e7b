"""Findings: the advice per code, and building findings from the first pass's aggregates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ftkit.data.checks import (
    ALL_SEPARATORS,
    ENDING_FALLBACK,
    ENDINGS,
    SEPARATOR_FALLBACK,
    SEPARATORS,
    Scan,
)
from ftkit.data.models import SPLIT_NAMES, Finding, Severity, TaskType, TextFixes, counted
from ftkit.data.reading import SourceReader

# Severity and advice per line-level problem code; `{details}` lists what was seen.
LINE_PROBLEMS: dict[str, tuple[Severity, str]] = {
    "invalid_utf8": (
        "error",
        "Lines are not valid UTF-8 ({details}). Re-save the file as UTF-8, or pass "
        "--fix drop-invalid to leave these lines out.",
    ),
    "blank_line": ("info", "Blank lines are skipped."),
    "invalid_json": (
        "error",
        "Lines are not valid JSON ({details}). Correct them, or pass --fix drop-invalid.",
    ),
    "truncated_last_line": (
        "error",
        "The last line is not valid JSON and has no line ending: the file looks truncated. "
        "Re-export it, or pass --fix drop-invalid.",
    ),
    "not_object": (
        "error",
        "Lines hold a JSON {details} instead of an object; each line must be one "
        '{{"prompt": ..., "completion": ...}} object. Correct them, or pass --fix drop-invalid.',
    ),
    "mixed_format": (
        "error",
        "Lines use a different format ({details}) from the rest of the file; use either "
        "prompt/completion or chat `messages` throughout, or pass --fix drop-invalid.",
    ),
    "missing_key": (
        "error",
        "Lines lack a required key ({details}); add it, or pass --fix drop-invalid. "
        "(A missing value is never read as text.)",
    ),
    "key_case": (
        "warning",
        "Keys spelled {details} are read as the lowercase `prompt`/`completion`; rename them.",
    ),
    "unknown_keys": (
        "warning",
        "Extra keys ({details}) are not part of the format; they are ignored and not written.",
    ),
    "non_string": (
        "error",
        "Values must be strings, found {details}; quote numbers, replace nulls, or pass "
        "--fix drop-invalid.",
    ),
    "empty_completion": (
        "error",
        "Completions are empty; there is nothing to learn from these examples. Fill them in, "
        "or pass --fix drop-invalid.",
    ),
    "empty_prompt": (
        "warning",
        "Prompts are empty while others are not; the model gets no input for these examples.",
    ),
    "chat_messages": (
        "error",
        "`messages` must be a non-empty list of message objects ({details}); correct these "
        "lines, or pass --fix drop-invalid.",
    ),
    "chat_role": (
        "error",
        "Messages have an unknown role ({details}); use system, user, assistant, tool or "
        "function, or pass --fix drop-invalid.",
    ),
    "chat_content": (
        "error",
        "Message content must be a string ({details}); correct it, or pass --fix drop-invalid.",
    ),
    "chat_no_assistant": (
        "error",
        "Examples have no assistant message, so there is nothing to train on; add one, or "
        "pass --fix drop-invalid.",
    ),
    "chat_unknown_keys": (
        "warning",
        "Messages carry keys the API does not accept ({details}); they are not written.",
    ),
    "chat_weight": (
        "error",
        "`weight` must be 0 or 1 and only on assistant messages ({details}); correct it, or "
        "pass --fix drop-invalid.",
    ),
}

# Findings are listed in the legacy tool's validator order, the added checks beside their kin.
CODE_ORDER = (
    "wide_encoding",
    "json_array_file",
    "bom",
    "invalid_utf8",
    "blank_line",
    "invalid_json",
    "truncated_last_line",
    "not_object",
    "mixed_format",
    "examples",
    "too_few_examples",
    "few_examples",
    "missing_key",
    "key_case",
    "unknown_keys",
    "non_string",
    "empty_completion",
    "empty_prompt",
    "chat_messages",
    "chat_role",
    "chat_content",
    "chat_no_assistant",
    "chat_unknown_keys",
    "chat_weight",
    "task_type",
    "class_balance",
    "duplicates",
    "too_long",
    "maybe_too_long",
    "uppercase_prompt",
    "uppercase_completion",
    "identical_prompts",
    "prompt_separator",
    "no_prompt_separator",
    "separator_inside_prompt",
    "prompt_prefix",
    "completion_prefix",
    "identical_completions",
    "completion_stop",
    "no_completion_ending",
    "no_leading_space",
    "class_missing_in_split",
    "tokens_not_counted",
    "cost",
)

LONG_SEPARATOR = 10  # legacy: a common suffix this long is "very long"
WEAK_SEPARATOR = 3  # a shorter common ending that is no known marker ("." or "?") is weak
LONG_PROMPT_PREFIX = 12  # legacy: a longer common prompt prefix is worth removing
LONG_COMPLETION_PREFIX = 5
IMBALANCE_RATIO = 10


@dataclass
class Decisions:
    """What the data's shape implies for the output, and the fixes that apply."""

    prompt_separator: str | None = None
    completion_stop: str | None = None
    fixes: TextFixes = field(default_factory=TextFixes)


def line_findings(scan: Scan, drop_invalid: bool) -> list[Finding]:
    """One finding per line-level problem code seen; errors are fixed by drop-invalid."""
    findings = []
    for code, (severity, template) in LINE_PROBLEMS.items():
        if not scan.tally.counts[code]:
            continue
        finding = scan.tally.finding(
            code, severity, template.format(details=scan.tally.detail_text(code) or "-")
        )
        if severity == "error" and drop_invalid:
            finding.fixed_by = "drop-invalid"
        findings.append(finding)
    return findings


def _q(text: str) -> str:
    return repr(text)


def dataset_findings(
    scan: Scan, task_type: TaskType, fixes: set[str]
) -> tuple[list[Finding], Decisions]:
    """Task type, balance, letter case, separators, prefixes, endings, leading spaces."""
    findings: list[Finding] = []
    decisions = Decisions()
    labels = scan.label_counts()
    if task_type == "classification":
        findings.append(_class_finding(labels))
        balance = _balance_finding(labels)
        if balance:
            findings.append(balance)
    else:
        findings.append(
            Finding(
                code="task_type",
                severity="info",
                message=f"The data looks like {task_type.replace('_', ' ')}.",
            )
        )
    if scan.shape != "prompt_completion" or scan.examples == 0:
        return findings, decisions
    for column, name in ((0, "prompt"), (1, "completion")):
        if scan.upper[column] * 2 > scan.lower[column]:
            fixed = "lowercase" in fixes
            setattr(decisions.fixes, f"lowercase_{name}", fixed)
            findings.append(
                Finding(
                    code=f"uppercase_{name}",
                    severity="warning",
                    message=f"More than a third of the {name} letters are uppercase; unless "
                    "case matters, pass --fix lowercase.",
                    fixed_by="lowercase" if fixed else None,
                )
            )
    if task_type != "open_ended_generation":
        findings += _separator_findings(scan, fixes, decisions)
        findings += _prompt_prefix_findings(scan, fixes, decisions)
    findings += _completion_findings(scan, task_type, fixes, decisions)
    return findings, decisions


def _class_finding(labels: dict[str, int]) -> Finding:
    shown = ", ".join(
        f"{label!r}: {n}" for label, n in sorted(labels.items(), key=lambda x: -x[1])[:10]
    )
    more = f" and {len(labels) - 10} more" if len(labels) > 10 else ""
    return Finding(
        code="task_type",
        severity="info",
        message=f"Classification-style data: {len(labels)} classes ({shown}{more}). Keep a "
        "held-out set and turn on classification metrics "
        "(job.classification.compute_metrics=true).",
    )


def _balance_finding(labels: dict[str, int]) -> Finding | None:
    if len(labels) < 2:
        return None
    largest = max(labels.values())
    smallest_label, smallest = min(labels.items(), key=lambda item: item[1])
    if smallest * IMBALANCE_RATIO >= largest:
        return None
    return Finding(
        code="class_balance",
        severity="warning",
        message=f"Classes are unbalanced: {smallest_label!r} has {counted(smallest, 'example')}, the "
        f"largest class {largest}. Add examples of the rare classes, or judge the model by "
        "per-class metrics (F1), not accuracy.",
        count=smallest,
    )


def _separator_findings(scan: Scan, fixes: set[str], decisions: Decisions) -> list[Finding]:
    if not scan.prompts_differ and scan.examples > 1 and scan.empty_prompts == 0:
        return [
            Finding(
                code="identical_prompts",
                severity="error",
                message="All prompts are identical, so the model cannot learn from them; give "
                "each example its own input.",
                count=scan.examples,
            )
        ]
    suffix = scan.prompt_suffix or ""
    marker = next((s for s in ALL_SEPARATORS if suffix.endswith(s)), None)
    if suffix and marker is None and len(suffix.strip()) < WEAK_SEPARATOR:
        # One or two characters such as "." or "?" also end sentences inside prompts: a weak
        # marker. It is reported, and add-separator appends a real one.
        return _no_separator(scan, fixes, decisions, weak=suffix)
    if suffix:
        # A known marker at the end is the separator; text before it belongs to the prompts.
        suffix = marker or suffix
        decisions.prompt_separator = suffix
        inside = _separator_inside(scan, suffix)
        long_note = (
            " It is long; a short marker such as '\\n\\n###\\n\\n' works as well."
            if len(suffix) > LONG_SEPARATOR
            else ""
        )
        empty = f" ({scan.empty_prompts} empty prompts left aside)" if scan.empty_prompts else ""
        return [
            Finding(
                code="prompt_separator",
                severity="info",
                message=f"Every prompt ends with {_q(suffix)}{empty}; end prompts with it at "
                f"inference too.{long_note}",
            ),
            *inside,
        ]
    return _no_separator(scan, fixes, decisions, weak=None)


def _no_separator(
    scan: Scan, fixes: set[str], decisions: Decisions, weak: str | None
) -> list[Finding]:
    allowed = [s for s in scan.separators_unused if s != " ->" or not scan.prompt_newline]
    candidate = next((s for s in SEPARATORS if s in allowed), SEPARATOR_FALLBACK)
    fixed = "add-separator" in fixes
    if fixed:
        decisions.fixes.add_separator = decisions.prompt_separator = candidate
    elif weak:
        decisions.prompt_separator = weak
    problem = (
        f"Prompts only share the ending {_q(weak)}, which also ends sentences"
        if weak
        else "Prompts do not end with a common separator"
    )
    return [
        Finding(
            code="no_prompt_separator",
            severity="warning",
            message=f"{problem}, so the model cannot tell where a prompt ends; pass --fix "
            f"add-separator to append {_q(candidate)} (and end prompts with it at inference).",
            fixed_by="add-separator" if fixed else None,
        )
    ]


def _prompt_prefix_findings(scan: Scan, fixes: set[str], decisions: Decisions) -> list[Finding]:
    prefix = scan.prompt_prefix or ""
    if not prefix or not scan.prompts_differ or prefix == scan.prompt_suffix:
        return []
    if len(prefix) <= LONG_PROMPT_PREFIX:
        return [
            Finding(
                code="prompt_prefix",
                severity="info",
                message=f"Every prompt starts with {_q(prefix)}.",
            )
        ]
    fixed = "strip-prompt-prefix" in fixes
    if fixed:
        decisions.fixes.strip_prompt_prefix = prefix
    return [
        Finding(
            code="prompt_prefix",
            severity="warning",
            message=f"Every prompt starts with the same {len(prefix)} characters "
            f"({_q(prefix[:40])}); they teach nothing and cost tokens: pass "
            "--fix strip-prompt-prefix (and leave them out at inference).",
            fixed_by="strip-prompt-prefix" if fixed else None,
        )
    ]


def _completion_findings(
    scan: Scan, task_type: TaskType, fixes: set[str], decisions: Decisions
) -> list[Finding]:
    findings: list[Finding] = []
    if not scan.completions_differ and scan.examples > 1:
        return [
            Finding(
                code="identical_completions",
                severity="error",
                message="All completions are identical, so there is nothing to learn; check "
                "that the completion column is the right one.",
                count=scan.examples,
            )
        ]
    prefix = scan.completion_prefix or ""
    if len(prefix) >= LONG_COMPLETION_PREFIX:
        fixed = "strip-completion-prefix" in fixes
        if fixed:
            decisions.fixes.strip_completion_prefix = prefix
        findings.append(
            Finding(
                code="completion_prefix",
                severity="warning",
                message=f"Every completion starts with {_q(prefix[:40])}; the model would "
                "spend tokens repeating it: pass --fix strip-completion-prefix.",
                fixed_by="strip-completion-prefix" if fixed else None,
            )
        )
    suffix = scan.completion_suffix or ""
    stop = next((e for e in (*ENDINGS, ENDING_FALLBACK) if suffix.endswith(e)), None)
    if stop is not None:
        decisions.completion_stop = stop
        findings.append(
            Finding(
                code="completion_stop",
                severity="info",
                message=f"Every completion ends with {_q(stop)}; pass stop=[{_q(stop)}] when "
                "you ask the model for completions.",
            )
        )
    elif task_type != "classification":
        candidate = next((e for e in ENDINGS if e in scan.endings_unused), ENDING_FALLBACK)
        fixed = "add-ending" in fixes
        if fixed:
            decisions.fixes.add_ending = decisions.completion_stop = candidate
        shared = (
            f" (their common ending {_q(suffix)} is part of the text, not a marker)"
            if suffix
            else ""
        )
        findings.append(
            Finding(
                code="no_completion_ending",
                severity="warning",
                message=f"Completions share no ending that can serve as a stop sequence{shared}; "
                f"pass --fix add-ending to append {_q(candidate)} and use it as the stop "
                "sequence.",
                fixed_by="add-ending" if fixed else None,
            )
        )
    if scan.tally.counts["no_leading_space"]:
        fixed = "add-space" in fixes
        decisions.fixes.add_space = fixed
        findings.append(
            scan.tally.finding(
                "no_leading_space",
                "warning",
                "Completions should start with a space (or a newline): the tokenizer joins a "
                "leading space to the next word. Pass --fix add-space.",
            )
        )
        findings[-1].fixed_by = "add-space" if fixed else None
    return findings


def _separator_inside(scan: Scan, separator: str) -> list[Finding]:
    if separator not in ALL_SEPARATORS:
        return []
    code = f"separator_inside_prompt/{ALL_SEPARATORS.index(separator)}"
    if not scan.tally.counts[code]:
        return []
    finding = scan.tally.finding(
        code,
        "warning",
        f"The separator {_q(separator)} also occurs inside these prompts, so the model may "
        "take the prompt as ended too early; pick a separator that occurs only at the end.",
    )
    finding.code = "separator_inside_prompt"
    return [finding]


def overlap_findings(
    main: Scan, main_keep: np.ndarray, held: Scan, held_keep: np.ndarray, source: str
) -> list[Finding]:
    """Validation examples whose prompt is also a training prompt (leakage)."""
    shared = np.isin(held.prompt_key_array(), main.prompt_key_array()[main_keep]) & held_keep
    if not shared.any():
        return []
    lines = held.line_numbers()[shared][: held.max_lines]
    return [
        Finding(
            code="validation_overlap",
            severity="warning",
            message="These validation examples have a prompt that is also in the training "
            "data, so validation scores will look better than they are; remove them from one "
            "of the files.",
            lines=[int(line) for line in lines],
            count=int(shared.sum()),
            source=source,
        )
    ]


def file_findings(reader: SourceReader) -> list[Finding]:
    """What is wrong with the file as a whole: UTF-16/32 text, a JSON array saved as .jsonl."""
    path = reader.path
    findings = []
    if reader.wide_encoding:
        findings.append(
            Finding(
                code="wide_encoding",
                severity="error",
                message=f"The file is {reader.wide_encoding} text; ftkit reads UTF-8. Convert "
                f"it first, e.g. `iconv -f {reader.wide_encoding[:6]} -t UTF-8 {path.name} > "
                f"{path.stem}.utf8{path.suffix}` (Notepad: Save As, Encoding UTF-8).",
            )
        )
    elif reader.json_array:
        findings.append(
            Finding(
                code="json_array_file",
                severity="error",
                message="The file holds a JSON array, not one JSON object per line: set "
                "data.format: json (on the command line: data.format=json), or save it as .json.",
            )
        )
    return findings


def bom_finding(bom: bool) -> list[Finding]:
    """The byte-order-mark warning, if the file had one."""
    if not bom:
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


def duplicate_findings(scan: Scan, duplicates: np.ndarray, drop: bool) -> list[Finding]:
    """Repeated (prompt, completion) pairs, listed by the lines of the repeats."""
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


def conflicting_label_findings(scan: Scan) -> list[Finding]:
    """Prompts that appear with two or more different labels, listed by all their lines."""
    prompts = scan.prompt_key_array()
    completions = np.frombuffer(scan.completion_keys, dtype=np.uint64)
    order = np.lexsort((completions, prompts))
    ordered_prompts, ordered_completions = prompts[order], completions[order]
    differ = (ordered_prompts[1:] == ordered_prompts[:-1]) & (
        ordered_completions[1:] != ordered_completions[:-1]
    )
    conflicted = np.unique(ordered_prompts[1:][differ])
    if not len(conflicted):
        return []
    involved = np.isin(prompts, conflicted)
    lines = scan.line_numbers()[involved][: scan.max_lines]
    return [
        Finding(
            code="conflicting_labels",
            severity="warning",
            message=f"{len(conflicted)} prompt(s) appear with different labels; the model "
            "cannot learn both, and evaluation counts one of them wrong. Keep the right label "
            "for each and drop the others.",
            lines=[int(line) for line in lines],
            count=int(involved.sum()),
        )
    ]


def count_findings(scan: Scan, codes: np.ndarray, minimum: int, recommended: int) -> list[Finding]:
    """How many examples there are, and errors/warnings when there are too few."""
    kept = len(codes)
    train = int((codes == 0).sum())
    findings = [
        Finding(
            code="examples",
            severity="info",
            message=f"The file has {counted(scan.examples, 'usable example')} ({kept:,} kept: "
            f"{train:,} for training).",
            count=scan.examples,
        )
    ]
    if train < minimum:
        findings.append(
            Finding(
                code="too_few_examples",
                severity="error",
                message=f"Only {counted(train, 'training example')}; fine-tuning needs at least {minimum} "
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


def class_split_findings(split_labels: list[dict[str, int]]) -> list[Finding]:
    """An error when a class is absent from a non-empty split."""
    classes = set().union(*split_labels)
    missing = []
    for name, present in zip(SPLIT_NAMES, split_labels, strict=True):
        absent = sorted(classes - set(present))
        if present and absent:
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


def length_findings(scan: Scan, drop: bool) -> list[Finding]:
    """Examples over the token limit (exact, or estimated without token counts)."""
    findings = []
    tally = scan.tally
    limit = scan.options.context_limit
    fixed_by = "drop-long" if drop else None
    if tally.counts["too_long"]:
        finding = tally.finding(
            "too_long",
            "error",
            f"Examples are longer than the {limit} tokens the model trains on (exact counts: "
            f"{tally.detail_text('too_long')}); they would be cut, losing the completion. "
            "Shorten them, or pass --fix drop-long.",
        )
        finding.fixed_by = fixed_by
        findings.append(finding)
    if tally.counts["maybe_too_long"]:
        finding = tally.finding(
            "maybe_too_long",
            "warning",
            f"Examples have more than {4 * limit} characters and are probably over the "
            f"{limit}-token limit (tokens were not counted); count tokens to be sure, or pass "
            "--fix drop-long.",
        )
        finding.fixed_by = fixed_by
        findings.append(finding)
    if scan.options.encoding is None:
        findings.append(
            Finding(
                code="tokens_not_counted",
                severity="info",
                message="Tokens were not counted (checks.count_tokens=false / --no-tokens): no "
                "exact length check and no cost estimate.",
            )
        )
    return findings
