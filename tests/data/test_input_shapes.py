"""Inputs that look fine to a person but not to a JSONL reader are named for what they are:
UTF-16/32 text, a JSON array saved as .jsonl, and one prompt given two different labels."""

from __future__ import annotations

import json

import pytest

from .conftest import Prepare
from .prep_helpers import finding, jsonl, pc_lines


@pytest.mark.parametrize(
    ("codec", "named"),
    [
        ("utf-16", "UTF-16 (little-endian)"),  # Windows' "Unicode": BOM + little-endian
        ("utf-16-be", "UTF-16 (big-endian, no byte-order mark)"),
        ("utf-16-le", "UTF-16 (little-endian, no byte-order mark)"),
        ("utf-32", "UTF-32 (little-endian)"),
    ],
)
def test_wide_encodings_are_named_with_how_to_convert(
    prepare: Prepare, codec: str, named: str
) -> None:
    """UTF-16/32 text gets a first error naming the encoding and how to convert it."""
    content = jsonl(pc_lines(20)).decode().encode(codec)
    prepared = prepare(content)
    first = prepared.findings[0]
    assert (first.code, first.severity) == ("wide_encoding", "error")
    assert named in first.message and "iconv" in first.message
    assert not prepared.written


def test_a_json_array_saved_as_jsonl_gets_the_format_hint(prepare: Prepare) -> None:
    """A .jsonl file holding one JSON array says to set data.format: json; as .json it works."""
    content = json.dumps(pc_lines(20), indent=2).encode()
    first = prepare(content).findings[0]
    assert (first.code, first.severity) == ("json_array_file", "error")
    assert "data.format: json" in first.message
    assert prepare(content, name="data.json").examples == 20
    assert prepare(content, format="json").examples == 20


def test_one_prompt_with_two_labels_is_flagged(prepare: Prepare) -> None:
    """Every line of a prompt given different labels is listed; exact repeats are not."""
    rows = pc_lines(20)
    rows += [dict(rows[3], completion=" no" if rows[3]["completion"] == " yes" else " yes")]
    rows += [rows[5]]  # an exact duplicate is another finding, not a conflict
    conflict = finding(prepare(jsonl(rows)), "conflicting_labels")
    assert (conflict.severity, conflict.lines, conflict.count) == ("warning", [4, 21], 2)
    assert "1 prompt(s)" in conflict.message
    clean = prepare(jsonl(pc_lines(20)))
    assert "conflicting_labels" not in {f.code for f in clean.findings}
