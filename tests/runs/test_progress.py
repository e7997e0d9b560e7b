"""The progress `ftkit run` shows, read from a run folder as the pipeline writes it."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from ftkit.cli.progress import PlainLines, RunWatcher


def write_step(run_dir: Path, step: int, total: int, loss: float, legacy: bool = False) -> None:
    message = f"Step {step}/{total}: training loss={loss:.2f}"
    data = None if legacy else {"step": step, "total_steps": total, "train_loss": loss}
    event = {"id": f"ev-{step}", "created_at": step, "message": message, "data": data}
    with (run_dir / "events.jsonl").open("a") as out:
        out.write(json.dumps(event) + "\n")


def test_watcher_reads_stage_and_steps_of_both_dialects(tmp_path: Path) -> None:
    """Stage from run.json; step/total/loss from jobs-dialect data or legacy message text."""
    (tmp_path / "run.json").write_text(json.dumps({"stage": "follow"}))
    watcher = RunWatcher(tmp_path, "exp/run")
    assert watcher.poll().stage == "follow" and watcher.snapshot.total is None
    write_step(tmp_path, 10, 100, 0.5)
    snapshot = watcher.poll()
    assert (snapshot.step, snapshot.total, snapshot.loss) == (10, 100, 0.5)
    write_step(tmp_path, 20, 100, 0.25, legacy=True)
    with (tmp_path / "events.jsonl").open("a") as out:
        out.write('{"id": "torn')  # a line being written is left for the next poll
    snapshot = watcher.poll()
    assert (snapshot.step, snapshot.total, snapshot.loss) == (20, 100, 0.25)


def test_plain_lines_on_phase_changes_and_each_tenth_of_training(tmp_path: Path) -> None:
    """Not a TTY: a line per stage and per tenth of the steps, not one per event."""
    (tmp_path / "run.json").write_text(json.dumps({"stage": "prepare"}))
    stream = io.StringIO()
    watcher, lines = RunWatcher(tmp_path, "exp/run"), PlainLines(stream)
    lines.show(watcher.poll())
    (tmp_path / "run.json").write_text(json.dumps({"stage": "follow"}))
    for step in range(1, 101):
        write_step(tmp_path, step, 100, 1 / step)
        lines.show(watcher.poll())
    out = stream.getvalue().splitlines()
    assert out[0] == "exp/run: prepare"
    assert out[-1] == "exp/run: follow step 100/100 loss=0.0100"
    assert len(out) == 12  # prepare, then follow at steps 1, 10, 20, ..., 100


def test_a_stage_passed_between_two_polls_still_gets_its_line(tmp_path: Path) -> None:
    """A fast machine can go prepare → upload → follow within one poll: each stage is printed,
    in the order it started; stages of an earlier attempt are not."""
    watcher, stream = RunWatcher(tmp_path, "exp/run"), io.StringIO()
    lines = PlainLines(stream)
    now = time.time()
    started = {"prepare": now + 0.1, "follow": now + 0.3, "upload": now + 0.2, "report": now - 60}
    (tmp_path / "run.json").write_text(json.dumps({"stage": "follow", "stage_started_at": started}))
    lines.show(watcher.poll())
    lines.show(watcher.poll())
    assert stream.getvalue().splitlines() == [
        "exp/run: prepare",
        "exp/run: upload",
        "exp/run: follow",
    ]
