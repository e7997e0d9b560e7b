"""Scanning a file in many chunks and merging gives the same aggregates as one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ftkit.data.checks import Scan, ScanOptions, scan_chunk
from ftkit.data.reading import SourceReader

from .prep_helpers import jsonl


def test_chunked_scan_equals_single_scan(tmp_path: Path) -> None:
    """Labels are remapped, prefixes/suffixes and candidates combine, tallies keep line order."""
    rows: list[object] = []
    for i in range(200):
        label = [" a", " b", " c"][i % 3] if i < 100 else [" c", " d"][i % 2]
        rows.append({"prompt": f"Item: {i} text\n\n###\n\n", "completion": label})
        if i % 37 == 0:
            rows.append("{broken")
    source = tmp_path / "d.jsonl"
    source.write_bytes(jsonl(rows))
    options = ScanOptions("prompt_completion", 50, "cl100k_base", 4096)
    reader = SourceReader(source)

    whole = Scan(options)
    for chunk in reader.chunks():
        whole.add_chunk(chunk, reader.lines, reader.unterminated_last_line)
    merged = Scan(options)
    for chunk in reader.chunks(300):
        merged.merge(scan_chunk(options, chunk, reader.lines, reader.unterminated_last_line))

    assert merged.labels == whole.labels
    assert (merged.label_array() == whole.label_array()).all()
    assert (merged.prompt_key_array() == whole.prompt_key_array()).all()
    assert (merged.duplicate_mask() == whole.duplicate_mask()).all()
    assert np.array_equal(merged.token_array(), whole.token_array())
    assert merged.tally.lines == whole.tally.lines and merged.tally.counts == whole.tally.counts
    for name in ("prompt_prefix", "prompt_suffix", "completion_prefix", "completion_suffix"):
        assert getattr(merged, name) == getattr(whole, name), name
    assert merged.separators_unused == whole.separators_unused
    assert merged.endings_unused == whole.endings_unused
    assert (merged.upper, merged.lower) == (whole.upper, whole.lower)
    assert merged.task_type() == whole.task_type() == "classification"


def _state(scan: Scan) -> dict[str, object]:
    fields = {k: v for k, v in vars(scan).items() if not k.startswith("_") and k != "tally"}
    tally = scan.tally
    fields["tally"] = (dict(tally.counts), tally.lines, tally.details)
    return fields


def test_batched_chunks_equal_line_by_line(tmp_path: Path) -> None:
    """The whole-chunk path for clean chunks gives exactly the line-by-line aggregates."""
    import random

    rng = random.Random(3)
    pieces = ["Good", "bad", " ->", "\n\n###\n\n", "\n\n===\n\n", "x", "\n", "\x00", "END", "."]
    for case in range(120):
        rows: list[object] = []
        tail = rng.choice(["\n\n###\n\n", " ->", "\n\n===\n\n", "", "?"])
        for i in range(rng.randint(1, 40)):
            body = "".join(rng.choices(pieces, k=rng.randint(0, 6))) + f"w{i % 5}"
            completion = rng.choice([" yes", " no", "no", "\tmaybe END", " a.", f" {i}***"])
            rows.append(
                {"prompt": body + (tail if rng.random() < 0.9 else ""), "completion": completion}
            )
        source = tmp_path / f"d{case}.jsonl"
        source.write_bytes(jsonl(rows))
        encoding = "cl100k_base" if case % 2 else None
        options = ScanOptions("prompt_completion", 5, encoding, rng.choice([8, 20, 4096]))
        reader = SourceReader(source)
        batched, lines = Scan(options), Scan(options)
        for chunk in reader.chunks(rng.choice([1, 200, 5000])):
            batched.add_chunk(chunk, reader.lines, reader.unterminated_last_line)
            lines._add_lines(chunk, reader.lines, reader.unterminated_last_line)
        assert _state(batched) == _state(lines), case
