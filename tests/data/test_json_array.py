"""JSON-array inputs are read one item at a time: same items as a whole-file parse, clear errors."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from ftkit.data.json_array import json_array_items
from ftkit.errors import DataError

ITEMS: list[Any] = [
    {"prompt": 'Caf\u00e9 \u2615 "quoted" \\ back\\slash\n', "completion": " yes"},
    {"prompt": "x" * 3000, "completion": " \U0001f600"},
    [1, 2.5, -3e-7, 2.5e10, 0.125, 12345678901234567890],
    "a string",
    None,
    True,
    {"nested": {"deep": [[], {}, [{"k": "v"}]]}},
]


def read(data: bytes, block_bytes: int = 1 << 20) -> list[Any]:
    return list(json_array_items(io.BytesIO(data), Path("d.json"), block_bytes))


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize(("indent", "ascii_only"), [(None, False), (2, True)])
def test_items_match_a_whole_file_parse_whatever_the_block_size(
    block_bytes: int, indent: int | None, ascii_only: bool
) -> None:
    """Items cut anywhere by block ends (inside strings, escapes, numbers, UTF-8 sequences)."""
    data = json.dumps(ITEMS, indent=indent, ensure_ascii=ascii_only).encode()
    assert read(data, block_bytes) == ITEMS


@pytest.mark.parametrize("block_bytes", range(1, 12))
def test_numbers_cut_by_a_block_end_are_read_whole(block_bytes: int) -> None:
    data = b"[1, -3e-7, 2.5E+10, 0.125, 10, -0.5e3]"
    assert read(data, block_bytes) == [1, -3e-7, 2.5e10, 0.125, 10, -500.0]


@pytest.mark.parametrize("text", ["[]", "  [ ]  \n", "[\n]"])
def test_an_empty_array_has_no_items(text: str) -> None:
    assert read(text.encode(), 1) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "a"}', "expected a JSON array of objects, got an object"),
        ("", "got an empty file"),
        ('[{"a": 1}, {"b": }]', r"item 2: Expecting value"),
        ('[{"a": 1},]', r"item 2: Expecting value"),
        ('[{"a": 1} {"b": 2}]', r"item 1: expected ',' or ']' after the item, found '\{'"),
        ('[{"a": 1}, {"b": "cut', r"item 2: Unterminated string"),
        ('[{"a": 1}', r"item 1: expected ',' or ']' after the item, found the end of the file"),
        ('[{"a": 1}] [2]', r"item 1: data after the closing '\]'"),
    ],
)
def test_a_malformed_file_names_the_item(text: str, message: str) -> None:
    for block_bytes in (1, 5, 1 << 20):
        with pytest.raises(DataError, match=message):
            read(text.encode(), block_bytes)


def test_invalid_utf8_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not valid UTF-8"):
        read(b'[{"prompt": "caf\xe9"}]')


def test_memory_holds_a_block_and_an_item_not_the_file() -> None:
    item = {"prompt": "word " * 100, "completion": " label"}
    data = json.dumps([item] * 20_000).encode()  # ~10 MB
    stream = io.BytesIO(data)
    tracemalloc.start()
    count = sum(1 for _ in json_array_items(stream, Path("d.json"), 1 << 16))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert peak < len(data) / 20
