"""The steps an API operation asks its driver to perform (the client is written sans-I/O).

Every operation (upload, idempotent create, following events ...) is written once, as a
generator that yields these instructions and receives their results. `Client` performs them with
blocking httpx calls, `AsyncClient` with awaits; the logic itself exists only once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes) while a file uploads."""


@dataclass(frozen=True)
class Upload:
    """A file sent as the multipart part `file`, re-opened for every attempt."""

    path: Path
    filename: str
    fields: dict[str, str]
    progress: ProgressCallback | None = None


@dataclass(frozen=True)
class Call:
    """Send one request (retried per the policy) and return its parsed answer."""

    method: str
    path: str
    what: str
    params: dict[str, Any] | None = None
    json: Any = None
    upload: Upload | None = None
    expect: Literal["json", "bytes", "file"] = "json"
    dest: Path | None = None
    idempotent: bool = True
    read_timeout: float | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds."""

    seconds: float


@dataclass(frozen=True)
class Emit:
    """Hand a value to the caller of an iterating operation."""

    value: Any


@dataclass(frozen=True)
class OpenStream:
    """Open a streaming response (retried like a Call); returns a handle for NextLine."""

    call: Call


@dataclass
class NextLine:
    """The next line of an open stream, or None when the server ended it."""

    handle: Any


@dataclass
class CloseStream:
    """Close an open stream."""

    handle: Any


Instruction = Call | Sleep | Emit | OpenStream | NextLine | CloseStream
Op = Generator[Instruction, Any, Any]


@dataclass
class Stepper:
    """Advances an operation: feeds it results or exceptions, returns its next instruction."""

    op: Op
    value: Any = None
    error: BaseException | None = None
    streams: list[Any] = field(default_factory=list)

    def next(self) -> Instruction | StopIteration:
        """The next instruction, or the StopIteration that carries the operation's result."""
        value, error = self.value, self.error
        self.value = self.error = None
        try:
            return self.op.throw(error) if error is not None else self.op.send(value)
        except StopIteration as stop:
            return stop
