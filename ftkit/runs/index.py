"""runs/index.jsonl: one line per run, rewritten atomically under a lock."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import orjson

from ftkit.errors import ConfigError
from ftkit.runs.atomic import write_bytes_atomic
from ftkit.runs.file_lock import locked_file
from ftkit.runs.state import IndexEntry


class RunIndex:
    """The list of runs under a runs directory, newest last."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.path = runs_dir / "index.jsonl"

    def entries(self) -> list[IndexEntry]:
        """Every run in the index, in the order they were first recorded."""
        if not self.path.is_file():
            return []
        return [
            IndexEntry.model_validate(orjson.loads(line))
            for line in self.path.read_bytes().splitlines()
            if line.strip()
        ]

    def upsert(self, entry: IndexEntry) -> None:
        """Add the entry, or replace the one with the same run id and experiment."""
        with self._locked():
            entries = self.entries()
            for position, existing in enumerate(entries):
                if (existing.run_id, existing.experiment) == (entry.run_id, entry.experiment):
                    entries[position] = entry
                    break
            else:
                entries.append(entry)
            write_bytes_atomic(
                self.path,
                b"".join(orjson.dumps(e.model_dump(mode="json")) + b"\n" for e in entries),
            )

    def find(self, ref: str) -> IndexEntry:
        """The run whose id starts with `ref` (or `experiment/run-id`); it must be unique."""
        experiment, _, prefix = ref.rpartition("/")
        matches = [
            e
            for e in self.entries()
            if e.run_id.startswith(prefix) and experiment in ("", e.experiment)
        ]
        if not matches:
            msg = f"no run {ref!r} in {self.path}; `ftkit runs list` shows the runs."
            raise ConfigError(msg)
        if len(matches) > 1:
            names = ", ".join(f"{e.experiment}/{e.run_id}" for e in matches[:5])
            msg = f"run {ref!r} is ambiguous ({names}); give more of the id."
            raise ConfigError(msg)
        return matches[0]

    def _locked(self) -> AbstractContextManager[None]:
        return locked_file(self.runs_dir / ".index.lock")
