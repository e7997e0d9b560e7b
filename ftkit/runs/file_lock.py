"""An exclusive lock on a file, held for a `with` block (shared by the run folders' locks)."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def locked_file(path: Path, lock: Callable[[Any, int], Any] = fcntl.flock) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created, with its folder, if missing) for the block.

    `fcntl.flock` (the default) also keeps out other threads of this process; `fcntl.lockf`
    takes a POSIX record lock instead, which NFS honours between machines.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        lock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock(handle, fcntl.LOCK_UN)
