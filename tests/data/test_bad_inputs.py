"""Malformed input never stops the run: every bad line is reported with its number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftkit.data.models import DataValidationError
from ftkit.errors import DataError

from .conftest import Prepare
from .prep_helpers import codes, finding, jsonl, pc_lines


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    """A data file that does not exist is a DataError naming the path."""
    from ftkit.config import DataConfig
    from ftkit.data.prepare import prepare_dataset

    with pytest.raises(DataError, match=r"nope\.jsonl"):
        prepare_dataset(DataConfig(source=tmp_path / "nope.jsonl"), "babbage-002", tmp_path)


def test_empty_file_reports_too_few_examples(prepare: Prepare) -> None:
    """An empty file is an error about the number of examples, not a crash."""
    prepared = prepare(b"")
    assert prepared.examples == 0
    assert finding(prepared, "too_few_examples").severity == "error"
    assert not prepared.written


def test_blank_lines_are_skipped_and_listed(prepare: Prepare) -> None:
    """Blank and whitespace-only lines are skipped with an info finding naming them."""
    content = jsonl([*pc_lines(20)[:6], "", "   ", *pc_lines(20)[6:]])
    prepared = prepare(content)
    blank = finding(prepared, "blank_line")
    assert (blank.severity, blank.lines) == ("info", [7, 8])
    assert prepared.examples == 20
    assert prepared.errors == 0


def test_crlf_line_endings_are_read(prepare: Prepare) -> None:
    """CRLF files are read like LF files and written with clean text."""
    content = jsonl(pc_lines(20)).replace(b"\n", b"\r\n")
    prepared = prepare(content)
    assert (prepared.examples, prepared.errors) == (20, 0)
    written = Path(prepared.splits["train"].path).read_bytes()
    assert b"\r" not in written


def test_truncated_last_line_is_named(prepare: Prepare) -> None:
    """A last line cut off mid-JSON is its own error and the other lines still count."""
    content = jsonl(pc_lines(20)) + b'{"prompt": "cut of'
    prepared = prepare(content)
    truncated = finding(prepared, "truncated_last_line")
    assert (truncated.severity, truncated.lines) == ("error", [21])
    assert prepared.examples == 20


def test_valid_last_line_without_newline_is_fine(prepare: Prepare) -> None:
    """A complete last line without a line ending is a normal example."""
    prepared = prepare(jsonl(pc_lines(20)).rstrip(b"\n"))
    assert (prepared.examples, prepared.errors) == (20, 0)


def test_ten_megabyte_line(prepare: Prepare) -> None:
    """A 10 MB example is read, counted in exact tokens and flagged as too long."""
    long = {"prompt": "word " * 2_000_000 + "\n\n###\n\n", "completion": " yes"}
    prepared = prepare([*pc_lines(20), long])
    too_long = finding(prepared, "too_long")
    assert too_long.lines == [21]
    assert prepared.examples == 21


def test_json_list_on_a_line(prepare: Prepare) -> None:
    """A JSON list where an object belongs is a not_object error with its line."""
    prepared = prepare([*pc_lines(20), "[1, 2, 3]", '"text"'])
    not_object = finding(prepared, "not_object")
    assert not_object.lines == [21, 22]
    assert "list" in not_object.message


def test_numbers_and_nulls_for_strings(prepare: Prepare) -> None:
    """Numbers, nulls, booleans and lists in prompt/completion are non_string errors."""
    rows = [
        {"prompt": 1, "completion": " a"},
        {"prompt": "x", "completion": None},
        {"prompt": "x", "completion": True},
        {"prompt": ["x"], "completion": " a"},
    ]
    prepared = prepare([*pc_lines(20), *rows])
    non_string = finding(prepared, "non_string")
    assert (non_string.lines, non_string.count) == ([21, 22, 23, 24], 4)
    assert "null" in non_string.message and "number" in non_string.message


def test_missing_key_is_an_error_never_nan(prepare: Prepare, tmp_path: Path) -> None:
    """A missing completion is an error for that line; with drop-invalid nothing says "nan"."""
    prepared = prepare([*pc_lines(20), {"prompt": "lonely"}], fixes=["drop-invalid"])
    missing = finding(prepared, "missing_key")
    assert (missing.lines, missing.fixed_by) == ([21], "drop-invalid")
    out = b"".join(Path(s.path).read_bytes() for s in prepared.splits.values())
    assert b"nan" not in out and b"lonely" not in out


def test_unknown_keys_warn_and_are_not_written(prepare: Prepare) -> None:
    """Extra keys are a warning naming them; the written examples carry only the format keys."""
    rows = [{**row, "id": i} for i, row in enumerate(pc_lines(20))]
    prepared = prepare(rows)
    unknown = finding(prepared, "unknown_keys")
    assert unknown.severity == "warning" and "id" in unknown.message
    first = json.loads(Path(prepared.splits["train"].path).read_text().splitlines()[0])
    assert set(first) == {"prompt", "completion"}


def test_differently_cased_keys_are_accepted_with_a_warning(prepare: Prepare) -> None:
    """`Prompt`/`Completion` are read as prompt/completion, as the legacy tool does."""
    rows = [{"Prompt": r["prompt"], "Completion": r["completion"]} for r in pc_lines(20)]
    prepared = prepare(rows)
    assert finding(prepared, "key_case").count == 40
    assert (prepared.examples, prepared.errors) == (20, 0)


def test_bom_is_skipped_with_a_warning(prepare: Prepare) -> None:
    """A UTF-8 byte-order mark is skipped and reported; line 1 still parses."""
    prepared = prepare(b"\xef\xbb\xbf" + jsonl(pc_lines(20)))
    assert finding(prepared, "bom").severity == "warning"
    assert (prepared.examples, prepared.errors) == (20, 0)


def test_invalid_utf8_line(prepare: Prepare) -> None:
    """Bytes that are not UTF-8 make an invalid_utf8 error for that line only."""
    content = jsonl(pc_lines(20)) + b'{"prompt": "caf\xe9", "completion": " x"}\n'
    prepared = prepare(content)
    assert finding(prepared, "invalid_utf8").lines == [21]
    assert prepared.examples == 20


def test_every_bad_line_is_found_in_one_run(prepare: Prepare) -> None:
    """One run reports every kind of problem at once, each with its own lines."""
    rows = [
        *pc_lines(20),
        "{not json",
        "[]",
        {"prompt": "p"},
        {"prompt": "p", "completion": ""},
        {"prompt": 3, "completion": " a"},
    ]
    prepared = prepare(rows)
    expected = {"invalid_json": [21], "not_object": [22], "missing_key": [23]}
    expected |= {"empty_completion": [24], "non_string": [25]}
    for code, lines in expected.items():
        assert finding(prepared, code).lines == lines
    assert prepared.errors == 5


def test_errors_raise_after_validation_json_is_written(tmp_path: Path) -> None:
    """prepare_dataset raises DataValidationError, exit code 1, and validation.json exists."""
    from ftkit.config import DataConfig
    from ftkit.data.prepare import prepare_dataset

    source = tmp_path / "bad.jsonl"
    source.write_bytes(jsonl([*pc_lines(20), "{oops"]))
    with pytest.raises(DataValidationError) as caught:
        prepare_dataset(DataConfig(source=source), "babbage-002", tmp_path / "out")
    assert caught.value.exit_code == 1
    assert "line" in str(caught.value) and "21" in str(caught.value)
    saved = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert saved["errors"] == 1 and not (tmp_path / "out" / "train.jsonl").exists()


def test_line_limit_caps_listed_lines_not_the_count(prepare: Prepare) -> None:
    """Only max_listed_lines line numbers are listed; the count covers all of them."""
    prepared = prepare([*pc_lines(20), *["{bad"] * 30], max_lines=5)
    invalid = finding(prepared, "invalid_json")
    assert (invalid.lines, invalid.count) == ([21, 22, 23, 24, 25], 30)
    assert "invalid_json" in codes(prepared)
