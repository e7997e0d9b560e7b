"""Findings from the first pass's aggregates, and the fixes they call for."""

from __future__ import annotations

from dataclasses import dataclass

from ftkit.data.checks import (
    ALL_SEPARATORS,
    ENDING_FALLBACK,
    ENDINGS,
    LINE_PROBLEMS,
    SEPARATOR_FALLBACK,
    SEPARATORS,
    Scan,
)
from ftkit.data.models import Finding, TaskType

LONG_SEPARATOR = 10  # legacy: a common suffix this long is "very long"
LONG_PROMPT_PREFIX = 12  # legacy: a longer common prompt prefix is worth removing
LONG_COMPLETION_PREFIX = 5
IMBALANCE_RATIO = 10


@dataclass
class Decisions:
    """What the data's shape implies for the output, and the fixes that apply."""

    prompt_separator: str | None = None
    completion_stop: str | None = None
    add_separator: str | None = None
    add_ending: str | None = None
    strip_prompt_prefix: str | None = None
    strip_completion_prefix: str | None = None
    add_space: bool = False
    lowercase_prompt: bool = False
    lowercase_completion: bool = False


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
            setattr(decisions, f"lowercase_{name}", fixed)
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
        message=f"Classes are unbalanced: {smallest_label!r} has {smallest} examples, the "
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
    if suffix:
        # A known marker at the end is the separator; text before it belongs to the prompts.
        suffix = next((s for s in ALL_SEPARATORS if suffix.endswith(s)), suffix)
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
    allowed = [s for s in scan.separators_unused if s != " ->" or not scan.prompt_newline]
    candidate = next((s for s in SEPARATORS if s in allowed), SEPARATOR_FALLBACK)
    fixed = "add-separator" in fixes
    if fixed:
        decisions.add_separator = decisions.prompt_separator = candidate
    return [
        Finding(
            code="no_prompt_separator",
            severity="warning",
            message="Prompts do not end with a common separator, so the model cannot tell "
            f"where a prompt ends; pass --fix add-separator to append {_q(candidate)} "
            "(and end prompts with it at inference).",
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
        decisions.strip_prompt_prefix = prefix
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
            decisions.strip_completion_prefix = prefix
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
            decisions.add_ending = decisions.completion_stop = candidate
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
        decisions.add_space = fixed
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
