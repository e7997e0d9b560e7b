"""The JSONL reader's blocks and the split writer: what the two passes stand on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import ftkit.data.prepare as prepare_module
from ftkit.config import DataConfig
from ftkit.data.prepare import prepare_dataset
from ftkit.data.reading import BOM, SourceReader
from ftkit.data.writing import ChunkResult, SplitWriter
from ftkit.errors import DataError

from .prep_helpers import jsonl, pc_lines

LINES = [b'{"a": 1}', b"", b"x" * 5000, b'{"b": "\\u00e9"}\r', b"   ", b"last"]


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 4096, 1 << 20])
@pytest.mark.parametrize("ending", [b"\n", b""])
def test_chunks_number_every_line_once_whatever_the_block_size(
    tmp_path: Path, chunk_bytes: int, ending: bytes
) -> None:
    """Lines longer than a block, blank lines and a last line without newline all come back."""
    source = tmp_path / "d.jsonl"
    source.write_bytes(BOM + b"\n".join(LINES) + ending)
    reader = SourceReader(source)

    chunks = list(reader.chunks(chunk_bytes))

    items = [item for chunk in chunks for item in chunk.items()]
    assert items == list(enumerate(LINES, 1))
    assert [c.first_line for c in chunks[1:]] == [c.last_line + 1 for c in chunks[:-1]]
    assert (reader.bom, reader.lines, reader.unterminated_last_line) == (True, 6, not ending)


def test_detached_chunks_read_their_bytes_back_from_the_file(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    source.write_bytes(b"\n".join(LINES) + b"\n")
    reader = SourceReader(source)

    attached = list(reader.chunks(64))
    detached = list(reader.chunks(64, detached=True))

    assert all(chunk.data is None for chunk in detached)
    assert [c.block() for c in detached] == [c.block() for c in attached]
    assert [c.detached().block() for c in attached] == [c.data for c in attached]


def test_csv_chunks_hold_records_and_no_block(tmp_path: Path) -> None:
    source = tmp_path / "d.csv"
    source.write_text('prompt,completion\n"multi\nline",yes\nb,no\n', encoding="utf-8")

    (chunk,) = SourceReader(source).chunks(detached=True)

    assert chunk.block() is None and chunk.raw_lines() is None
    assert chunk.items() == [
        (2, {"prompt": "multi\nline", "completion": "yes"}),
        (4, {"prompt": "b", "completion": "no"}),
    ]


def test_split_writer_keeps_order_and_hashes(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("train.jsonl", "valid.jsonl", "test.jsonl")]
    with SplitWriter(paths, write=True) as writer:
        for index in range(50):
            writer.add(ChunkResult(blobs=[f"{index}\n".encode(), b"", b"t\n"]))
        hashes = writer.finish([True, False, True])

    assert paths[0].read_text() == "".join(f"{i}\n" for i in range(50))
    assert paths[2].read_text() == "t\n" * 50
    assert sorted(path.name for path in tmp_path.iterdir()) == ["test.jsonl", "train.jsonl"]
    assert hashes[0] == hashlib.sha256(paths[0].read_bytes()).hexdigest()


def test_split_writer_leaves_nothing_behind_when_the_pass_fails(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("train.jsonl", "valid.jsonl", "test.jsonl")]
    with pytest.raises(RuntimeError, match="worker died"), SplitWriter(paths, write=True) as writer:
        writer.add(ChunkResult(blobs=[b"a\n", b"b\n", b"c\n"]))
        raise RuntimeError("worker died")

    assert list(tmp_path.iterdir()) == []


def test_split_writer_reports_a_write_failure(tmp_path: Path) -> None:
    """A failing write on the writer thread surfaces in the main thread, files discarded."""
    paths = [tmp_path / name for name in ("train.jsonl", "valid.jsonl", "test.jsonl")]
    writer = SplitWriter(paths, write=True)
    writer.files[0].close()  # the next write to train fails
    writer.add(ChunkResult(blobs=[b"a\n", b"", b""]))

    with pytest.raises(ValueError, match="closed file"):
        writer.finish([True, True, True])
    assert list(tmp_path.iterdir()) == []


def test_a_file_changed_between_the_passes_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second pass re-reads the file: if it changed after the checks, nothing is kept."""
    source = tmp_path / "d.jsonl"
    source.write_bytes(jsonl(pc_lines(40)))
    real_assign = prepare_module.assign_splits

    def assign_then_append(*args: object, **kwargs: object) -> object:
        with source.open("ab") as file:
            file.write(jsonl(["{broken"]))
        return real_assign(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "assign_splits", assign_then_append)
    out = tmp_path / "out"
    with pytest.raises(DataError, match="changed while it was being prepared"):
        prepare_dataset(DataConfig(source=source), "babbage-002", out)
    assert sorted(path.name for path in out.iterdir()) == []


def test_a_truncated_span_is_a_data_error(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    source.write_bytes(b"\n".join(LINES) + b"\n")
    (chunk,) = SourceReader(source).chunks(detached=True)
    source.write_bytes(b"{}\n")

    with pytest.raises(DataError, match="changed while it was being prepared"):
        chunk.block()
