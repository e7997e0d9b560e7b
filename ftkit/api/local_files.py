"""Local files the client writes: paths built from names a provider chose, and downloads.

A provider is not trusted with the filesystem: such a name must be a plain file name, and the
path it makes must stay inside its folder, or nothing is written. A download goes to
`<dest>.part` and is renamed over `dest` only when complete; a failed one leaves no file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ftkit.errors import APIError

_SEPARATORS = ("/", "\\")


def plain_name(name: str, what: str) -> str:
    """`name` when it is a plain file name (no folder part, not `.`/`..`, no control
    character); APIError naming `what` otherwise."""
    problem = _problem(name)
    if problem:
        msg = f"The provider gave {what} the name {name!r}, which {problem}; nothing was written."
        raise APIError(msg)
    return name


def path_inside(folder: Path, name: str, what: str) -> Path:
    """`folder / name` for a provider's `name`, checked to stay inside `folder` (symlinks too)."""
    path = folder / plain_name(name, what)
    if path.resolve().parent != folder.resolve():
        msg = (
            f"The provider's name {name!r} for {what} leads outside {folder}; nothing was written."
        )
        raise APIError(msg)
    return path


def _problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "holds a control character"
    if any(separator in name for separator in _SEPARATORS) or Path(name).is_absolute():
        return "is a path, not a plain file name"
    if name in (".", ".."):
        return "names a folder, not a file"
    return None


@contextlib.contextmanager
def part_file(dest: Path) -> Iterator[BinaryIO]:
    """An open `<dest>.part`, renamed to `dest` when the block ends well and removed when not."""
    partial = dest.with_name(dest.name + ".part")
    try:
        with partial.open("wb") as out:
            yield out
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
