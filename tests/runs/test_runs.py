"""Run keys, run folders, the run index and the resumable event log."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftkit.config import ExperimentConfig, load_config
from ftkit.errors import ConfigError
from ftkit.runs import EventLog, RunFolder, RunIndex, run_key

ROOT = Path(__file__).resolve().parents[2]


def make_config(tmp_path: Path, *overrides: str) -> ExperimentConfig:
    data = tmp_path / "data.jsonl"
    if not data.exists():
        data.write_text('{"prompt": "a ->", "completion": " b\\n"}\n', encoding="utf-8")
    return load_config(
        ROOT / "configs" / "quickstart.yaml",
        [f"data.source={data}", f"runs_dir={tmp_path / 'runs'}", *overrides],
    )


def test_run_key_is_stable_and_ignores_follow_and_evaluate_settings(tmp_path: Path) -> None:
    """Polling, timeouts and evaluation settings do not change which job a config asks for."""
    base = run_key(make_config(tmp_path))
    assert base == run_key(make_config(tmp_path))
    assert base == run_key(make_config(tmp_path, "job.poll_interval_s=9", "evaluate.baseline=null"))


@pytest.mark.parametrize(
    "override",
    [
        "job.hyperparameters.n_epochs=5",
        "job.model=davinci-002",
        "provider.dialect=legacy",
        "data.split.seed=1",
    ],
)
def test_run_key_changes_with_the_job(tmp_path: Path, override: str) -> None:
    """Hyperparameters, model, dialect and the data split each define a different job."""
    assert run_key(make_config(tmp_path)) != run_key(make_config(tmp_path, override))


def test_run_key_follows_data_content_not_path(tmp_path: Path) -> None:
    """The same bytes under another name give the same key; changed bytes a new one."""
    config = make_config(tmp_path)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(config.data.source.read_bytes())
    assert run_key(config) == run_key(make_config(tmp_path, f"data.source={copy}"))
    copy.write_text('{"prompt": "x ->", "completion": " y\\n"}\n', encoding="utf-8")
    assert run_key(config) != run_key(make_config(tmp_path, f"data.source={copy}"))


def test_same_config_and_data_find_the_same_folder(tmp_path: Path) -> None:
    """A re-run opens the existing folder and keeps its state."""
    config = make_config(tmp_path)
    first = RunFolder.for_config(config)
    first.update(job_id="ftjob-1", status="running", stage="follow")
    again = RunFolder.for_config(config)
    assert first.path == again.path
    assert again.load_state().job_id == "ftjob-1"
    assert again.path == tmp_path / "runs" / "support-tickets" / again.load_state().run_id
    assert load_config(again.config_yaml).job == config.job


def test_state_changes_are_mirrored_in_the_index(tmp_path: Path) -> None:
    """run.json and runs/index.jsonl agree after every update."""
    config = make_config(tmp_path)
    folder = RunFolder.for_config(config)
    folder.update(status="succeeded", stage="done", fine_tuned_model="ft:x", metrics={"f1": 0.9})
    other = RunFolder.for_config(make_config(tmp_path, "job.hyperparameters.n_epochs=1"))
    entries = RunIndex(tmp_path / "runs").entries()
    assert [folder.load_state().run_id, other.load_state().run_id] == [e.run_id for e in entries]
    assert (
        entries[0].status,
        entries[0].fine_tuned_model,
        entries[0].metrics,
    ) == ("succeeded", "ft:x", {"f1": 0.9})


def test_runs_are_found_by_id_prefix_or_path(tmp_path: Path) -> None:
    """`ftkit runs show` accepts a unique id prefix, experiment/id or the folder path."""
    folder = RunFolder.for_config(make_config(tmp_path))
    run_id = folder.load_state().run_id
    runs = tmp_path / "runs"
    assert folder.path == RunFolder.open(run_id[:6], runs).path
    assert folder.path == RunFolder.open(f"support-tickets/{run_id}", runs).path
    assert folder.path == RunFolder.open(folder.path, runs).path
    with pytest.raises(ConfigError, match="no run 'zzz'"):
        RunFolder.open("zzz", runs)


def test_timed_records_stage_and_duration(tmp_path: Path) -> None:
    """A timed stage shows as the current stage and leaves its wall time in run.json."""
    folder = RunFolder.for_config(make_config(tmp_path))
    with folder.timed("upload"):
        assert folder.load_state().stage == "upload"
    assert folder.load_state().timings["upload"] >= 0


def event(number: int) -> dict[str, object]:
    return {"id": f"ev-{number}", "created_at": number, "message": f"Step {number}"}


def test_event_log_skips_replayed_events(tmp_path: Path) -> None:
    """An event delivered again (after a crash before the cursor was saved) is not repeated."""
    log = EventLog(tmp_path / "events.jsonl", tmp_path / "cursor.json")
    assert log.record(event(1), {"seen": 1})
    assert log.record(event(2), {"seen": 2})
    reopened = EventLog(tmp_path / "events.jsonl", tmp_path / "cursor.json")
    assert not reopened.record(event(2), {"seen": 2})
    assert reopened.record(event(3), {"seen": 3})
    assert [e["id"] for e in reopened.events()] == ["ev-1", "ev-2", "ev-3"]
    assert reopened.cursor() == {"seen": 3}


def test_event_log_cuts_a_torn_last_line(tmp_path: Path) -> None:
    """A half-written line from a killed process is dropped; the event is logged again whole."""
    log = EventLog(tmp_path / "events.jsonl", tmp_path / "cursor.json")
    log.record(event(1), {"seen": 1})
    with log.events_path.open("ab") as handle:
        handle.write(b'{"id": "ev-2", "crea')
    reopened = EventLog(tmp_path / "events.jsonl", tmp_path / "cursor.json")
    assert reopened.record(event(2), {"seen": 2})
    assert [e["id"] for e in reopened.events()] == ["ev-1", "ev-2"]


def test_classification_settings_default_from_the_data(tmp_path: Path) -> None:
    """compute_metrics without n_classes gets the class count (or the positive class) of the data."""
    from types import SimpleNamespace

    from ftkit.runs.steps import with_data_defaults

    job = make_config(tmp_path, "job.classification.compute_metrics=true").job
    four = SimpleNamespace(classes=[" a\n", " b\n", " c\n", " d\n"])
    two = SimpleNamespace(classes=[" yes\n", " no\n"])
    assert with_data_defaults(job, four).classification.n_classes == 4  # type: ignore[arg-type]
    assert with_data_defaults(job, two).classification.positive_class == " yes\n"  # type: ignore[arg-type]
    off = make_config(tmp_path).job
    assert with_data_defaults(off, four) == off  # type: ignore[arg-type]
