"""Every written example remembers its line in the user's file, so reports can point there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ftkit.data.models import SOURCE_LINES_FILE

from .conftest import Prepare
from .prep_helpers import jsonl, pc_lines


def test_each_split_example_maps_back_to_its_source_line(prepare: Prepare) -> None:
    """Blank lines and dropped duplicates shift nothing: split line k is source line lines[k]."""
    rows = pc_lines(60)
    content = jsonl([*rows[:5], "", *rows[5:], rows[7]])  # a blank line, a repeat at the end
    prepared = prepare(content, fixes=["drop-duplicates"])
    source = Path(prepared.source).read_text().splitlines()
    with np.load(Path(prepared.out_dir) / SOURCE_LINES_FILE) as arrays:
        for name, info in prepared.splits.items():
            written = Path(info.path).read_text().splitlines()
            lines = arrays[name]
            assert len(lines) == len(written) == info.examples
            for text, line in zip(written, lines, strict=True):
                assert json.loads(source[line - 1]) == json.loads(text)
            assert 62 not in lines  # the dropped repeat
