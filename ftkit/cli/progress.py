"""What `ftkit run` shows while the pipeline works: one live display in a terminal, plain lines
elsewhere.

The display reads only the run folders (run.json's stage, events.jsonl's training steps), so
it needs nothing from Prefect or the flow and shows the same thing for a local or hosted
provider. In a TTY, rich draws one line per run: phase, a bar, step/total, loss and ETA. Not in
a TTY (CI, a pipe), a line is printed when the phase changes and at each tenth of training.
Everything goes to stderr: stdout keeps the outcome (or its JSON).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from ftkit.runs.lease import other_runner

POLL_S = 0.25
PLAIN_STEPS = 10  # plain lines per run's training
STEP_MESSAGE = re.compile(r"Step (\d+)/(\d+): training loss=([0-9.]+)")


@dataclass
class Snapshot:
    """Where one run is: its stage and, while training, step / total steps / loss."""

    name: str
    stage: str = "starting"
    step: int = 0
    total: int | None = None
    loss: float | None = None
    entered: tuple[str, ...] = ()  # stages entered since watching began, oldest first


class RunWatcher:
    """Reads a run folder's progress: the stage from run.json, new events from events.jsonl."""

    def __init__(self, run_dir: Path, name: str) -> None:
        self.run_dir = run_dir
        self.snapshot = Snapshot(name)
        self._offset = 0
        self._since = time.time()

    def poll(self) -> Snapshot:
        """Read what changed since the last poll."""
        try:
            state = orjson.loads((self.run_dir / "run.json").read_bytes())
            self.snapshot.stage = str(state.get("stage") or self.snapshot.stage)
            self.snapshot.entered = self._entered(state.get("stage_started_at") or {})
        except (OSError, orjson.JSONDecodeError):
            pass  # not written yet, or mid-replace
        if (runner := other_runner(self.run_dir)) is not None:
            self.snapshot.stage = f"waiting for another runner ({runner.describe()})"
        events = self.run_dir / "events.jsonl"
        try:
            with events.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except OSError:
            return self.snapshot
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            self._read_event(orjson.loads(line))
        return self.snapshot

    def _entered(self, started_at: dict[str, float]) -> tuple[str, ...]:
        """Stages that started since watching began, so one passed between polls is not lost."""
        recent = sorted((at, stage) for stage, at in started_at.items() if at >= self._since)
        return tuple(stage for _, stage in recent)

    def _read_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if "step" in data and data.get("total_steps"):
            step, total, loss = data["step"], data["total_steps"], data.get("train_loss")
        elif match := STEP_MESSAGE.search(str(event.get("message", ""))):
            step, total, loss = int(match[1]), int(match[2]), float(match[3])
        else:
            return
        self.snapshot.step, self.snapshot.total = int(step), int(total)
        self.snapshot.loss = None if loss is None else float(loss)


class LiveDisplay:
    """rich's Progress: one task per run (phase, bar, step/total, loss, ETA)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            TextColumn("[cyan]{task.fields[stage]:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> LiveDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, snapshot: Snapshot) -> None:
        """Update the run's line."""
        if snapshot.name not in self.tasks:
            self.tasks[snapshot.name] = self.progress.add_task(
                snapshot.name, total=None, stage="", loss=""
            )
        loss = "" if snapshot.loss is None else f"loss {snapshot.loss:.4f}"
        self.progress.update(
            self.tasks[snapshot.name],
            total=snapshot.total,
            completed=snapshot.step,
            stage=snapshot.stage,
            loss=loss,
        )


class PlainLines:
    """A line per phase change and per tenth of training, for logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown: dict[str, tuple[str, int]] = {}
        self.stages_shown: dict[str, set[str]] = {}

    def __enter__(self) -> PlainLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()

    def show(self, snapshot: Snapshot) -> None:
        """Print a line if the stage changed or training passed another tenth.

        A stage that began and ended between two polls still gets its line, in order."""
        stages_shown = self.stages_shown.setdefault(snapshot.name, set())
        for passed in snapshot.entered:
            if passed not in stages_shown and passed != snapshot.stage:
                print(f"{snapshot.name}: {passed}", file=self.stream)
            stages_shown.add(passed)
        stage, tenth = self.shown.get(snapshot.name, ("", -1))
        now = snapshot.step * PLAIN_STEPS // snapshot.total if snapshot.total else -1
        if snapshot.stage == stage and now <= tenth:
            return
        self.shown[snapshot.name] = (snapshot.stage, now)
        line = f"{snapshot.name}: {snapshot.stage}"
        if snapshot.total:
            line += f" step {snapshot.step}/{snapshot.total}"
            if snapshot.loss is not None:
                line += f" loss={snapshot.loss:.4f}"
        print(line, file=self.stream, flush=True)


@contextmanager
def showing_progress(
    runs: Sequence[tuple[Path, str]], stream: TextIO | None = None
) -> Iterator[None]:
    """Show the runs' progress on `stream` (stderr) while the body runs."""
    stream = stream or sys.stderr
    watchers = [RunWatcher(path, name) for path, name in runs]
    display = LiveDisplay(stream) if stream.isatty() else PlainLines(stream)
    done = threading.Event()

    def refresh() -> None:
        for watcher in watchers:
            display.show(watcher.poll())

    def loop() -> None:
        while not done.wait(POLL_S):
            refresh()

    with display:
        thread = threading.Thread(target=loop, name="ftkit-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            refresh()
