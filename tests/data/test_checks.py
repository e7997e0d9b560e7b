"""Each check on a small hand-made file: the legacy checks (fixed) and the added ones."""

from __future__ import annotations

import json
from pathlib import Path

from ftkit.config import ChecksConfig, DataConfig, SplitConfig
from ftkit.data.prepare import prepare_dataset

from .conftest import Prepare
from .prep_helpers import codes, finding, jsonl, pc_lines

SEP = "\n\n###\n\n"


def generation(n: int, *, ending: str = "\n") -> list[dict[str, str]]:
    """n conditional-generation examples with distinct completions."""
    return [
        {"prompt": f"Summarise text {i}{SEP}", "completion": f" Summary number {i}{ending}"}
        for i in range(n)
    ]


def test_example_counts(prepare: Prepare) -> None:
    """Fewer than min_examples training examples is an error; under 100 is a warning."""
    assert finding(prepare(pc_lines(5)), "too_few_examples").severity == "error"
    few = prepare(pc_lines(40))
    assert finding(few, "few_examples").severity == "warning"
    assert "few_examples" not in codes(prepare(pc_lines(120)))


def test_task_type_inference(prepare: Prepare) -> None:
    """Classification when distinct completions < n/3; open-ended when all prompts are empty."""
    assert prepare(pc_lines(30)).task_type == "classification"
    assert prepare(generation(30)).task_type == "conditional_generation"
    open_ended = [{"prompt": "", "completion": f" story {i}\n"} for i in range(30)]
    prepared = prepare(open_ended)
    assert prepared.task_type == "open_ended_generation"
    assert "empty_prompt" not in codes(prepared)


def test_duplicates_are_listed_after_the_first(prepare: Prepare) -> None:
    """Repeated (prompt, completion) pairs are listed by the lines of the repeats."""
    rows = pc_lines(30)
    prepared = prepare([*rows, rows[0], rows[5]])
    duplicates = finding(prepared, "duplicates")
    assert (duplicates.lines, duplicates.count, duplicates.severity) == ([31, 32], 2, "warning")


def test_long_examples_in_exact_tokens(prepare: Prepare) -> None:
    """An example over the model's token limit (2048 for ada) is an error with its line."""
    long = {"prompt": "hello " * 2100 + SEP, "completion": " yes"}
    prepared = prepare([*pc_lines(30), long], model="ada")
    too_long = finding(prepared, "too_long")
    assert (too_long.lines, too_long.severity) == ([31], "error")
    assert "2048 tokens" in too_long.message and "exact counts: 21" in too_long.message


def test_long_examples_without_token_counts_are_estimated(prepare: Prepare) -> None:
    """Without token counting, a very long example is a warning, not an exact error."""
    long = {"prompt": "hello " * 2000 + SEP, "completion": " yes"}
    prepared = prepare([*pc_lines(30), long], model="ada", count_tokens=False)
    assert finding(prepared, "maybe_too_long").lines == [31]
    assert "tokens_not_counted" in codes(prepared)
    assert prepared.tokens.billed_per_epoch is None and prepared.cost.usd is None


def test_uppercase_text(prepare: Prepare) -> None:
    """Mostly uppercase prompts are flagged for the lowercase fix."""
    rows = [{"prompt": f"SHOUTED QUESTION {i}{SEP}", "completion": " yes"} for i in range(30)]
    assert finding(prepare(rows), "uppercase_prompt").severity == "warning"


def test_identical_prompts_are_an_error(prepare: Prepare) -> None:
    """All prompts identical leaves nothing to learn from the input."""
    rows = [{"prompt": f"same{SEP}", "completion": f" answer {i}\n"} for i in range(30)]
    assert finding(prepare(rows), "identical_prompts").severity == "error"


def test_separator_found_despite_one_empty_prompt(prepare: Prepare) -> None:
    """One empty prompt does not hide the separator every other prompt ends with."""
    rows = [*pc_lines(30), {"prompt": "", "completion": " yes"}]
    prepared = prepare(rows)
    assert prepared.prompt_separator == SEP
    assert finding(prepared, "empty_prompt").lines == [31]
    assert "no_prompt_separator" not in codes(prepared)


def test_missing_separator_suggests_an_unused_candidate(prepare: Prepare) -> None:
    """Without a common separator the advice names the first candidate no prompt contains."""
    plain = [{"prompt": f"question {i}", "completion": " yes"} for i in range(30)]
    assert "' ->'" in finding(prepare(plain), "no_prompt_separator").message
    multi = [{"prompt": f"line one\n\n###\n\nq {i}", "completion": " yes"} for i in range(30)]
    assert "'\\n\\n===\\n\\n'" in finding(prepare(multi), "no_prompt_separator").message


def test_separator_inside_a_prompt(prepare: Prepare) -> None:
    """A separator that also occurs inside a prompt is a warning naming that line."""
    rows = [*pc_lines(30), {"prompt": f"a{SEP}b{SEP}", "completion": " yes"}]
    assert finding(prepare(rows), "separator_inside_prompt").lines == [31]


def test_long_common_prompt_prefix(prepare: Prepare) -> None:
    """A common prompt prefix over 12 characters is worth stripping."""
    rows = [{"prompt": f"Classify this review: {i}{SEP}", "completion": " yes"} for i in range(30)]
    prefix = finding(prepare(rows), "prompt_prefix")
    assert prefix.severity == "warning" and "strip-prompt-prefix" in prefix.message


def test_common_completion_prefix(prepare: Prepare) -> None:
    """A completion prefix of 5+ characters shared by all completions is flagged."""
    rows = [{"prompt": f"q {i}{SEP}", "completion": f" Answer: {i}\n"} for i in range(30)]
    assert "strip-completion-prefix" in finding(prepare(rows), "completion_prefix").message


def test_stop_sequence_comes_from_the_candidates(prepare: Prepare) -> None:
    """Completions ending in a candidate get it as stop; "tive" is never advised."""
    assert prepare(generation(30)).completion_stop == "\n"
    labels = (" positive", " negative", " positive", " negative", " positive", " negative")
    prepared = prepare(pc_lines(30, labels=labels))
    assert prepared.completion_stop is None
    assert all("'tive'" not in f.message for f in prepared.findings)


def test_generation_without_an_ending(prepare: Prepare) -> None:
    """Generation completions with no marker ending get add-ending advice, not their suffix."""
    rows = [
        {"prompt": f"q {i}{SEP}", "completion": f" the answer is {i} positive"} for i in range(30)
    ]
    ending = finding(prepare(rows), "no_completion_ending")
    assert "add-ending" in ending.message and "'\\n'" in ending.message


def test_completions_without_leading_space(prepare: Prepare) -> None:
    """Completions that do not start with whitespace are listed for the add-space fix."""
    prepared = prepare(pc_lines(30, labels=("yes", "no")))
    assert finding(prepared, "no_leading_space").count == 30


def test_class_balance(prepare: Prepare) -> None:
    """A class 10× rarer than the largest is a warning naming it."""
    labels = (" common",) * 11 + (" rare",)
    rows = pc_lines(120, labels=labels)
    assert "' rare'" in finding(prepare(rows), "class_balance").message


def test_every_class_in_every_split_or_an_error(prepare: Prepare) -> None:
    """A class too small to reach every split is an error naming the class and split."""
    rows = [*pc_lines(40), {"prompt": f"odd one{SEP}", "completion": " maybe"}]
    missing = finding(prepare(rows), "class_missing_in_split")
    assert "' maybe'" in missing.message and missing.severity == "error"
    no_holdout = prepare(rows, split=SplitConfig(train=1.0, validation=0.0, test=0.0))
    assert "class_missing_in_split" not in codes(no_holdout)


def test_disabled_checks_are_silent(tmp_path: Path) -> None:
    """Codes listed in checks.disable do not appear in the findings."""
    source = tmp_path / "d.jsonl"
    source.write_bytes(jsonl(pc_lines(30, labels=("yes", "no"))))
    data = DataConfig(source=source, checks=ChecksConfig(disable=["no_leading_space"]))
    prepared = prepare_dataset(data, "babbage-002", tmp_path / "out")
    assert "no_leading_space" not in codes(prepared)


def test_chat_format_checks(prepare: Prepare) -> None:
    """Chat lines: unknown roles, no assistant, bad weight and unknown keys are reported."""

    def chat(i: int, **extra: object) -> dict[str, object]:
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": f"Answer {i}."},
        ]
        return {"messages": messages, **extra}

    bad = [
        {"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi"}]},
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "x", "weight": 2},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "hi", "mood": 1},
                {"role": "assistant", "content": "y"},
            ]
        },
        {"messages": "not a list"},
        {"prompt": "mixed", "completion": " x"},
    ]
    prepared = prepare(
        [chat(i) for i in range(30)] + bad + [chat(99, extra_key=1)], model="gpt-4o-mini-2024-07-18"
    )
    assert prepared.format == "chat"
    expected = {
        "chat_role": [31],
        "chat_no_assistant": [32],
        "chat_weight": [33],
        "chat_unknown_keys": [34],
        "chat_messages": [35],
        "mixed_format": [36],
        "unknown_keys": [37],
    }
    for code, lines in expected.items():
        assert finding(prepared, code).lines == lines, code
    assert prepared.tokens.encoding == "o200k_base"


def test_chat_weight_zero_and_one_are_fine(prepare: Prepare) -> None:
    """Assistant weights 0 and 1 are accepted and the data is written."""
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Q{i}"},
                {"role": "assistant", "content": "draft", "weight": 0},
                {"role": "user", "content": "again"},
                {"role": "assistant", "content": f"A{i}", "weight": 1},
            ]
        }
        for i in range(30)
    ]
    prepared = prepare(rows, model="gpt-3.5-turbo-0125")
    assert prepared.errors == 0 and prepared.written
    assert prepared.splits["train"].tokens and prepared.splits["train"].tokens > 0


def test_unknown_chat_keys_are_not_written(prepare: Prepare) -> None:
    """Unknown top-level and message keys are reported and left out of the written file."""
    rows = [
        {
            "id": i,
            "messages": [
                {"role": "user", "content": f"Q{i}", "mood": "ok"},
                {"role": "assistant", "content": f"A{i}"},
            ],
        }
        for i in range(30)
    ]
    prepared = prepare(rows, model="gpt-3.5-turbo-0125")
    assert finding(prepared, "chat_unknown_keys").count == 30
    first = json.loads(Path(prepared.splits["train"].path).read_text().splitlines()[0])
    assert set(first) == {"messages"} and set(first["messages"][0]) == {"role", "content"}


def test_a_full_stop_is_a_weak_separator(prepare: Prepare) -> None:
    """Prompts that only share a final "." get add-separator advice, and the fix adds a marker."""
    rows = [
        {"prompt": f"Film review {i}.", "completion": " yes" if i % 2 else " no"} for i in range(30)
    ]
    weak = finding(prepare(rows), "no_prompt_separator")
    assert "'.'" in weak.message and "add-separator" in weak.message
    assert prepare(rows, fixes=["add-separator"]).prompt_separator == " ->"


def test_identical_completions_are_an_error(prepare: Prepare) -> None:
    """All completions the same leaves nothing to learn (a wrong column, most likely)."""
    rows = [{"prompt": f"q {i}{SEP}", "completion": " same\n"} for i in range(30)]
    assert finding(prepare(rows), "identical_completions").severity == "error"


def test_uppercase_completions(prepare: Prepare) -> None:
    """Mostly uppercase completions are flagged, and --fix lowercase lowercases them."""
    rows = [{"prompt": f"q {i}{SEP}", "completion": f" ANSWER {i % 3}\n"} for i in range(30)]
    assert finding(prepare(rows), "uppercase_completion").severity == "warning"
    fixed = prepare(rows, fixes=["lowercase"])
    assert fixed.classes == [" answer 0\n", " answer 1\n", " answer 2\n"]
    assert finding(fixed, "uppercase_completion").fixed_by == "lowercase"
