"""The event log of a run: events.jsonl plus the follow cursor in cursor.json.

Each event is appended (and flushed) before the cursor that points past it is saved, so a
crash at any moment leaves the cursor at or behind the log: nothing is lost. Events the
provider replays after such a crash are recognised by id and skipped: nothing is repeated.
A torn last line (a crash mid-write) is cut off when the log is opened.

Writes survive a killed process (the data is in the kernel once written); they are not
fsynced, so a power loss may cost the tail, which the provider then replays.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ftkit.runs.atomic import read_json, write_json_atomic


class EventLog:
    """Append-only job events with the cursor that resumes following them."""

    def __init__(self, events_path: Path, cursor_path: Path) -> None:
        self.events_path = events_path
        self.cursor_path = cursor_path
        self._seen: set[str] | None = None

    def cursor(self) -> dict[str, Any] | None:
        """The saved cursor (as JSON), or None before the first event."""
        if not self.cursor_path.is_file():
            return None
        return read_json(self.cursor_path)

    def events(self) -> list[dict[str, Any]]:
        """Every recorded event, oldest first."""
        return list(self._read())

    def record(self, event: dict[str, Any], cursor: dict[str, Any]) -> bool:
        """Append `event` unless its id is already logged, then save `cursor`.

        Returns True when the event was new.
        """
        seen = self._seen_ids()
        new = event["id"] not in seen
        if new:
            with self.events_path.open("ab") as handle:
                handle.write(orjson.dumps(event) + b"\n")
            seen.add(event["id"])
        write_json_atomic(self.cursor_path, cursor)
        return new

    def _seen_ids(self) -> set[str]:
        if self._seen is None:
            self._repair()
            self._seen = {event["id"] for event in self._read()}
        return self._seen

    def _read(self) -> Iterator[dict[str, Any]]:
        if not self.events_path.is_file():
            return
        with self.events_path.open("rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    yield orjson.loads(line)

    def _repair(self) -> None:
        """Cut a torn last line left by a crash in the middle of an append."""
        if not self.events_path.is_file():
            return
        data = self.events_path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.events_path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
