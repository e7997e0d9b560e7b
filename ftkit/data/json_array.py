"""A top-level JSON array read one item at a time, so memory holds a block and an item, not the
file (orjson has no incremental mode; the standard library's C scanner decodes each item).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from ftkit.errors import DataError

BLOCK_CHARS = 1 << 20
_WHITESPACE = " \t\n\r"


def json_array_items(file: BinaryIO, path: Path, block_bytes: int = BLOCK_CHARS) -> Iterator[Any]:
    """Each item of the JSON array in `file` (positioned after any BOM), in order.

    Raises DataError naming `path` and the item when the file is not one well-formed array."""
    window = _Window(file, path, block_bytes)
    if window.next_char() != "[":
        found = window.peek_kind()
        raise DataError(f"{path}: expected a JSON array of objects, got {found}.")
    window.advance(1)
    decoder = json.JSONDecoder()
    number = 0
    if window.next_char() == "]":
        window.advance(1)
    else:
        while True:
            number += 1
            window.next_char()  # past the whitespace before the item
            yield window.decode(decoder, number)
            separator = window.next_char()
            window.advance(1)
            if separator == "]":
                break
            if separator != ",":
                found = repr(separator) if separator else "the end of the file"
                window.fail(number, f"expected ',' or ']' after the item, found {found}")
    if window.next_char() != "":
        window.fail(number, "data after the closing ']'")


class _Window:
    """The undecoded rest of the file: a text buffer refilled block by block."""

    def __init__(self, file: BinaryIO, path: Path, block_bytes: int) -> None:
        self.file = file
        self.path = path
        self.block_bytes = block_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def _read(self) -> bool:
        """Append a block (dropping what was consumed); False at the end of the file."""
        if self.eof:
            return False
        raw = self.file.read(self.block_bytes)
        try:
            decoded = self.utf8.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.path}: not valid UTF-8 ({exc.reason}).") from None
        self.text = self.text[self.pos :] + decoded
        self.pos = 0
        self.eof = not raw
        return True

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end), without consuming it."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text) or not self._read():
                return self.text[self.pos : self.pos + 1]

    def advance(self, count: int) -> None:
        self.pos += count

    def peek_kind(self) -> str:
        char = self.next_char()
        kinds = {"{": "an object", '"': "a string", "": "an empty file"}
        return kinds.get(char, f"a value starting with {char!r}")

    def decode(self, decoder: json.JSONDecoder, number: int) -> Any:
        """The next JSON value; reads more while the buffer's end cuts it off."""
        block_bytes = self.block_bytes
        try:
            while True:
                try:
                    value, end = decoder.raw_decode(self.text, self.pos)
                except json.JSONDecodeError as exc:
                    # A value cut off by the buffer's end fails at that end, or (a string) at
                    # its opening quote; anything else is broken whatever follows.
                    cut_off = exc.pos >= len(self.text) - 6 or exc.msg.startswith("Unterminated")
                    if cut_off and self._read():
                        self.block_bytes *= 2  # a long item: fewer, larger reads
                        continue
                    self.fail(number, f"{exc.msg} at character {exc.pos - self.pos + 1}")
                if end > len(self.text) - 3 and self._read():
                    continue  # a number cut at "-3e", "2.5E+" or "0." goes on: decode it again
                self.pos = end
                return value
        finally:
            self.block_bytes = block_bytes

    def fail(self, number: int, problem: str) -> NoReturn:
        raise DataError(
            f"{self.path}: not a valid JSON array (item {number}: {problem}); JSONL (one object "
            "per line) is the preferred format."
        )
