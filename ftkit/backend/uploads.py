"""File uploads: multipart bodies streamed straight to disk, and the fine-tune content check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ftkit.backend.errors import bad_request, too_large

if TYPE_CHECKING:  # the callbacks' TypedDict exists for type checkers only
    from python_multipart.multipart import MultipartCallbacks

PURPOSES = (
    "fine-tune",
    "assistants",
    "batch",
    "vision",
    "user_data",
    "evals",
    "search",
    "answers",
    "classifications",
)
EXTENSION_TEXT = "Invalid file format for Fine-Tuning API. Must be .jsonl"
NOT_JSONL_TEXT = (
    "Expected file to have JSONL format, where every line is a JSON dictionary. "
    'Line {line} is not a dictionary (HINT: line starts with: "{start}...").'
)


@dataclass
class Upload:
    """What a multipart upload carried: form fields, and the file part's name and size."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0


async def receive_upload(
    chunks: AsyncIterator[bytes], content_type: str, dest: Path, limit: int
) -> Upload:
    """Parse a multipart body chunk by chunk, writing the `file` part to `dest`.

    Raises 400 for a body that is not multipart and 413 as soon as the file passes `limit`.
    """
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise bad_request("Content type must be multipart/form-data with a boundary.")
    upload = Upload()
    part: dict[str, object] = {}
    with open(dest, "wb") as out:
        parser = MultipartParser(boundary, _callbacks(upload, part, out, limit))
        try:
            async for chunk in chunks:
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise bad_request(f"The multipart body could not be parsed: {exc}.") from None
    return upload


def _callbacks(
    upload: Upload, part: dict[str, object], out: BinaryIO, limit: int
) -> MultipartCallbacks:
    header: dict[str, bytes] = {}

    def on_part_begin() -> None:
        part.clear()
        part["headers"] = {}
        part["value"] = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] = header.get("field", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] = header.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        headers = part["headers"]
        assert isinstance(headers, dict)
        headers[header.get("field", b"").lower()] = header.get("value", b"")
        header.clear()

    def on_headers_finished() -> None:
        headers = part["headers"]
        assert isinstance(headers, dict)
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        part["name"] = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options and part["name"] == "file":
            if upload.filename is not None:
                raise bad_request(
                    "Only one file can be uploaded per request, but the body has more than one "
                    "'file' part.",
                    param="file",
                )
            part["is_file"] = True
            upload.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.get("is_file"):
            upload.size += end - start
            if upload.size > limit:
                raise too_large(limit)
            out.write(data[start:end])
        else:
            value = part["value"]
            assert isinstance(value, bytearray)
            value += data[start:end]

    def on_part_end() -> None:
        if not part.get("is_file"):
            value = part["value"]
            assert isinstance(value, bytearray)
            upload.fields[str(part["name"])] = value.decode("utf-8", "replace")

    return {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }


def check_fine_tune_file(path: Path, filename: str) -> None:
    """The synchronous upload check of `purpose=fine-tune`: a .jsonl name (when the name has an
    extension at all) and one JSON object per non-blank line. Raises 400 with the real texts."""
    suffix = Path(filename).suffix.lower()
    if suffix and suffix != ".jsonl":
        raise bad_request(EXTENSION_TEXT)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                value = None
            if not isinstance(value, dict):
                start = line[:3].decode("utf-8", "replace")
                raise bad_request(NOT_JSONL_TEXT.format(line=number, start=start))
