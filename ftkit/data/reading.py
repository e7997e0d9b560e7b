"""Streaming readers: the source file as numbered chunks of raw items, never all in memory.

An item is `(line, payload)`: for JSONL the payload is the raw line bytes (parsed later, so
parsing can run in worker processes); for CSV/TSV rows and JSON-array items it is the record
already mapped to `prompt`/`completion` keys, or None when the row was not valid UTF-8.
JSONL is read in blocks of whole lines, kept whole in the chunk: clean chunks are then checked
and copied a block at a time, and items are cut out only for chunks that need them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ftkit.config import ColumnMapping, DataFormat
from ftkit.data.json_array import json_array_items
from ftkit.errors import DataError

Item = tuple[int, Any]
BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20
_EXTENSIONS: dict[str, DataFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
}


@dataclass(frozen=True)
class Chunk:
    """Consecutive items of one file: a block of raw JSONL lines, or records of other formats.

    A JSONL chunk also knows where its block lies in the file (`span`), so it can be sent to a
    worker process without its bytes (`detached`) and read back there."""

    first_line: int
    last_line: int
    data: bytes | None = None
    records: list[Item] | None = None
    span: tuple[str, int, int] | None = None  # JSONL: (path, offset, size) of the block

    @classmethod
    def of_records(cls, records: list[Item]) -> Chunk:
        """A chunk of CSV/TSV rows or JSON-array items."""
        return cls(records[0][0], records[-1][0], records=records)

    def detached(self) -> Chunk:
        """The chunk without its bytes when they can be read back from the file."""
        return replace(self, data=None) if self.span is not None else self

    def attached(self) -> Chunk:
        """The chunk with its bytes in memory (read back from the file if detached)."""
        if self.data is not None or self.span is None:
            return self
        return replace(self, data=self.block())

    def block(self) -> bytes | None:
        """JSONL: the lines, each ending in a newline but the file's last; None otherwise."""
        if self.data is not None or self.span is None:
            return self.data
        path, offset, size = self.span
        with open(path, "rb", buffering=0) as file:
            file.seek(offset)
            block = file.read(size)
        if len(block) != size:
            raise DataError(_changed(path))
        return block

    def raw_lines(self) -> list[bytes] | None:
        """The JSONL lines without their newlines; None for other formats."""
        block = self.block()
        if block is None:
            return None
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        return lines

    def items(self, lines: list[bytes] | None = None) -> list[Item]:
        """(line, payload) for each item; `lines`: the raw lines when already at hand."""
        lines = lines if lines is not None else self.raw_lines()
        if lines is None:
            return self.records or []
        return list(zip(range(self.first_line, self.last_line + 1), lines, strict=True))


class SourceReader:
    """Reads one dataset file as chunks of numbered items; remembers what it saw on the way."""

    def __init__(self, path: Path, fmt: DataFormat = "auto", columns: ColumnMapping | None = None):
        self.path = Path(path)
        self.columns = columns or ColumnMapping()
        if not self.path.is_file():
            msg = f"{self.path}: data file not found (give a JSONL, CSV, TSV or JSON file)."
            raise DataError(msg)
        self.wide_encoding = _wide_encoding(self.path)
        self.format = fmt if fmt != "auto" else self._format_from_name()
        self.json_array = fmt == "auto" and self.format == "jsonl" and self._starts_with(b"[")
        self.bom = False
        self.lines = 0
        self.unterminated_last_line = False
        self._last_bad_line = 0
        self._identity = _identity(self.path)

    def check_unchanged(self) -> None:
        """Raise DataError when the file was changed since this reader was made: the passes
        over it must all see the same bytes."""
        if _identity(self.path) != self._identity:
            raise DataError(_changed(self.path))

    def _format_from_name(self) -> DataFormat:
        fmt = _EXTENSIONS.get(self.path.suffix.lower())
        if fmt is None:
            known = ", ".join(sorted(_EXTENSIONS))
            msg = (
                f"{self.path}: cannot tell the format from the extension "
                f"{self.path.suffix or '(none)'!r}; use one of {known} or set data.format."
            )
            raise DataError(msg)
        if fmt == "json" and not self._starts_with(b"["):
            return "jsonl"  # a .json file holding JSON lines, as the legacy tool accepts
        return fmt

    def _starts_with(self, char: bytes) -> bool:
        with self.path.open("rb") as file:
            head = file.read(4096).removeprefix(BOM).lstrip()
        return head[:1] == char

    def chunks(self, chunk_bytes: int = CHUNK_BYTES, *, detached: bool = False) -> Iterator[Chunk]:
        """Numbered items in chunks of about `chunk_bytes`; line numbers start at 1.

        detached: JSONL chunks come without their bytes (see Chunk.detached), e.g. for worker
        processes, which read them back."""
        if self.format == "jsonl":
            yield from self._jsonl_chunks(chunk_bytes, detached)
        elif self.format in ("csv", "tsv"):
            yield from _batched(self._csv_rows(), chunk_bytes // 256)
        else:
            yield from _batched(self._json_array_items(), chunk_bytes // 256)

    def _jsonl_chunks(self, chunk_bytes: int, detached: bool) -> Iterator[Chunk]:
        # Blocks are cut after their last newline and the next read starts there, so no line
        # is copied; a line longer than a block doubles the read until it fits. Each chunk is
        # yielded once the next is read, so the last comes after the flags are set.
        held: Chunk | None = None
        line = 1
        with self.path.open("rb", buffering=0) as file:
            self.bom = file.read(len(BOM)) == BOM
            offset = len(BOM) if self.bom else 0
            size = chunk_bytes
            while True:
                file.seek(offset)
                block = file.read(size)
                cut = block.rfind(b"\n") + 1
                if not block or (not cut and len(block) == size):
                    if not block:
                        break
                    size *= 2
                    continue
                end = cut or len(block)  # no newline: the unterminated last line
                lines = block.count(b"\n", 0, end) + (0 if cut else 1)
                data = None if detached else block if end == len(block) else block[:end]
                chunk = Chunk(line, line + lines - 1, data, span=(str(self.path), offset, end))
                self.unterminated_last_line = not cut
                line, offset, size = chunk.last_line + 1, offset + end, chunk_bytes
                if held is not None:
                    yield held
                held = chunk
        self.lines = line - 1
        if held is not None:
            yield held

    def _decoded_lines(self) -> Iterator[str]:
        """Text lines for the csv module; a line that is not UTF-8 is marked, not fatal."""
        with self.path.open("rb") as file:
            for number, raw in enumerate(file, 1):
                if number == 1 and raw.startswith(BOM):
                    self.bom = True
                    raw = raw[len(BOM) :]
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    self._last_bad_line = number
                    yield raw.decode("utf-8", errors="replace")

    def _csv_rows(self) -> Iterator[Item]:
        delimiter = "\t" if self.format == "tsv" else ","
        self._last_bad_line = 0
        reader = csv.reader(self._decoded_lines(), delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            self.lines = 0
            return
        names = self._mapped_header(header)
        start = reader.line_num + 1
        for row in reader:
            if self._last_bad_line >= start:
                yield start, None
            elif row:
                record: dict[str, str | None] = dict(zip(names, row, strict=False))
                for name in names[len(row) :]:
                    record.setdefault(name, None)
                yield start, record
            start = reader.line_num + 1
        self.lines = reader.line_num

    def _mapped_header(self, header: list[str]) -> list[str]:
        mapping = {self.columns.prompt: "prompt", self.columns.completion: "completion"}
        missing = [column for column in mapping if column not in header]
        if missing:
            msg = (
                f"{self.path}: column(s) {', '.join(map(repr, missing))} not in the header "
                f"({', '.join(map(repr, header))}); set data.columns.prompt / "
                "data.columns.completion to the right names."
            )
            raise DataError(msg)
        return [mapping.get(name, name) for name in header]

    def _json_array_items(self) -> Iterator[Item]:
        # Items are numbered from 1 in place of lines.
        default = self.columns == ColumnMapping()
        number = 0
        with self.path.open("rb") as file:
            self.bom = file.read(len(BOM)) == BOM
            if not self.bom:
                file.seek(0)
            for number, item in enumerate(json_array_items(file, self.path), 1):
                renamed = item if default or not isinstance(item, dict) else self._renamed(item)
                yield number, renamed
        self.lines = number

    def _renamed(self, item: dict[str, Any]) -> dict[str, Any]:
        mapping = {self.columns.prompt: "prompt", self.columns.completion: "completion"}
        return {mapping.get(key, key): value for key, value in item.items()}


_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32 (little-endian)",
    b"\x00\x00\xfe\xff": "UTF-32 (big-endian)",
    b"\xff\xfe": "UTF-16 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
}


def _wide_encoding(path: Path) -> str | None:
    """The name of the file's encoding when it is UTF-16/32 text (a BOM, or ASCII with NULs
    between its bytes: UTF-16 without BOM), which read as UTF-8 fails on every line."""
    with path.open("rb") as file:
        head = file.read(4096)
    name = next((n for bom, n in _WIDE_BOMS.items() if head.startswith(bom)), None)
    if name is None and len(head) >= 4:
        if head[1::2].count(0) > len(head) // 4 and not head[0::2].count(0):
            name = "UTF-16 (little-endian, no byte-order mark)"
        elif head[0::2].count(0) > len(head) // 4 and not head[1::2].count(0):
            name = "UTF-16 (big-endian, no byte-order mark)"
    return name


def _identity(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns


def _changed(path: str | Path) -> str:
    return f"{path}: the file changed while it was being prepared; run again once it is complete."


def _batched(items: Iterator[Item], size: int) -> Iterator[Chunk]:
    records: list[Item] = []
    for item in items:
        records.append(item)
        if len(records) >= size:
            yield Chunk.of_records(records)
            records = []
    if records:
        yield Chunk.of_records(records)
