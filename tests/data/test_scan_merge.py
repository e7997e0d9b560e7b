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
