"""Property: for arbitrary bytes the validator never raises and names every malformed line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftkit.config import ChecksConfig, DataConfig
from ftkit.data.findings import LINE_PROBLEMS
from ftkit.data.models import DataValidationError, PreparedData
from ftkit.data.prepare import prepare_dataset

_valid = st.builds(
    lambda p, c: json.dumps({"prompt": p, "completion": " " + c}).encode(),
    st.text(max_size=20),
    st.text(min_size=1, max_size=10),
)
_junk = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
_lines = st.lists(
    st.one_of(_valid, _junk, st.sampled_from([b"[1]", b"null", b"{}", b"\r"])), max_size=30
)


def _prepare(content: bytes) -> PreparedData:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "data.jsonl"
        source.write_bytes(content)
        checks = ChecksConfig(count_tokens=False, max_listed_lines=1000)
        try:
            return prepare_dataset(
                DataConfig(source=source, checks=checks), "babbage-002", Path(tmp) / "out"
            )
        except DataValidationError as exc:
            return exc.prepared


def _is_example(raw: bytes) -> bool:
    """An independent oracle: a UTF-8 JSON object with string prompt and non-empty completion."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("prompt"), str)
        and isinstance(obj.get("completion"), str)
        and obj["completion"] != ""
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_lines, st.booleans())
def test_arbitrary_bytes_never_raise_and_every_bad_line_is_named(
    lines: list[bytes], end: bool
) -> None:
    """Each non-blank line is either an example or listed by an error finding, never both."""
    content = b"\n".join(lines) + (b"\n" if end and lines else b"")
    prepared = _prepare(content)
    physical = content.split(b"\n") if content else []
    if content.endswith(b"\n"):
        physical = physical[:-1]
    error_codes = {code for code, (severity, _) in LINE_PROBLEMS.items() if severity == "error"}
    error_codes.add("truncated_last_line")
    named = {line for f in prepared.findings if f.code in error_codes for line in f.lines}
    blank = {line for f in prepared.findings if f.code == "blank_line" for line in f.lines}
    if physical:
        physical[0] = physical[0].removeprefix(b"\xef\xbb\xbf")  # a BOM is skipped
    for number, raw in enumerate(physical, 1):
        if not raw.strip():
            assert number in blank, number
        elif _is_example(raw) and set(json.loads(raw)) <= {"prompt", "completion"}:
            assert number not in named, number
        elif not _is_example(raw):
            assert number in named, (number, raw)
    assert prepared.lines == len(physical)
