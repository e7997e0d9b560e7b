"""Is a process still the one we knew? (pid plus start time, so a reused pid is told apart)."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """Fields 3… of /proc/<pid>/stat (state first), or None where /proc does not say."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_started(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot); None where /proc does not say."""
    fields = _stat(pid)
    return fields[19] if fields else None


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether the process runs: not gone, not a zombie, not a newer one with its pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat(pid)
    if fields is None:
        return True
    return fields[0] != "Z" and (not started or fields[19] == started)
