"""Issue 13, the pipeline side: SIGTERM, outage advice, one backend for every command and runs
found from any directory (one runner per run key is in tests/chaos). Each assertion reads the
backend's own records or the run folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from flows import pipeline
from ftkit.api import Client
from ftkit.cli import app
from ftkit.config import load_config
from ftkit.runs import RunFolder

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
FTKIT = Path(sys.executable).parent / "ftkit"
FAST = ["job.hyperparameters.n_epochs=1", "evaluate.enabled=false"]


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def folder_of(*args: str) -> RunFolder:
    return RunFolder.for_config(load_config(QUICKSTART, list(args)))


def event_ids(folder: RunFolder) -> list[str]:
    path = folder.events.events_path
    return [orjson.loads(line)["id"] for line in path.read_bytes().splitlines() if line.strip()]


def wait_for(condition, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def training_started(folder: RunFolder) -> bool:
    path = folder.events.events_path
    return path.is_file() and b"Step " in path.read_bytes()


def start_ftkit(args: list[str], prefect_api: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    return subprocess.Popen(
        [str(FTKIT), "run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigterm_leaves_the_run_interrupted_and_the_job_running_for_a_re_run(
    quickstart_args: list[str], backend, prefect_api: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM while following: exit 143, no traceback, run.json `interrupted`, the job still
    trains; the same command again re-attaches to it and finishes with every event once."""
    args = [*quickstart_args, *FAST]
    folder = folder_of(*args[1:])
    backend.set_timing(step_seconds=0.1)  # the job outlives a slow SIGTERM; sped up after
    first = start_ftkit(args, prefect_api, tmp_path)
    wait_for(lambda: training_started(folder))
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "run the same command again to re-attach" in stderr
    state = folder.load_state()
    assert state.status == "interrupted"
    with Client(load_config(QUICKSTART, args[1:]).provider) as client:
        assert client.jobs.get(str(state.job_id)).status.value in ("queued", "running")

    backend.set_timing(step_seconds=0)
    second = start_ftkit(args, prefect_api, tmp_path)
    _, stderr = second.communicate(timeout=180)
    assert second.returncode == 0, stderr[-2000:]
    again = folder.load_state()
    assert (again.status, again.job_id) == ("succeeded", state.job_id)
    ids = event_ids(folder)
    assert len(ids) == len(set(ids))
    with Client(load_config(QUICKSTART, args[1:]).provider) as client:
        assert len(client.jobs.list()) == 1
        assert [e.id for e in (client.jobs.events(str(state.job_id)))] == ids


@pytest.mark.slow
def test_after_an_outage_while_following_the_advice_is_to_re_run_not_to_train_again(
    quickstart_args: list[str], backend, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The events endpoint drops every connection: the run fails, says the job may still be
    running and that the same command re-attaches; doing so finishes the same job."""
    monkeypatch.setattr(pipeline.follow, "retries", 0)  # the outage outlasts the task retries
    args = [*quickstart_args, *FAST]
    backend.set_timing(step_seconds=0.01)
    backend.set_faults(drop_rate=1.0, path_pattern=r"/events")
    code, stdout, stderr = run_cli("run", *args)
    assert code == 1, stdout + stderr
    assert "may still be running" in stdout and "re-attach" in stdout
    assert "job.seed" not in stdout + stderr
    job_id = folder_of(*args[1:]).load_state().job_id

    backend.clear_faults()
    backend.set_timing(step_seconds=0)
    code, stdout, stderr = run_cli("run", *args)
    assert code == 0, stdout + stderr
    assert folder_of(*args[1:]).load_state().job_id == job_id
    with Client(load_config(QUICKSTART, args[1:]).provider) as client:
        assert [job.id for job in client.jobs.list()] == [job_id]


@pytest.mark.slow
def test_every_command_finds_the_same_backend_and_runs_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the embedded backend at its default place, `ftkit run` from another directory
    re-attaches to the same job, `ftkit jobs list` and `ftkit runs list` see it; a backend
    that does not know the job leaves the succeeded run as it was."""
    monkeypatch.delenv("FTKIT_BACKEND_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    code, stdout, stderr = run_cli("run", str(QUICKSTART), "runs_dir=runs", *FAST)
    assert code == 0, stdout + stderr
    folder = folder_of(f"runs_dir={here / 'runs'}", *FAST)
    job_id = folder.load_state().job_id

    monkeypatch.chdir(elsewhere)
    code, stdout, _ = run_cli("runs", "list")
    assert code == 0 and folder.load_state().run_id in stdout
    code, stdout, _ = run_cli("jobs", "list")
    assert code == 0 and job_id in stdout
    runs = f"runs_dir={here / 'runs'}"
    code, stdout, stderr = run_cli("run", str(QUICKSTART), runs, *FAST, "evaluate.enabled=true")
    assert code == 0, stdout + stderr
    assert (folder.load_state().status, folder.load_state().job_id) == ("succeeded", job_id)

    monkeypatch.setenv("FTKIT_BACKEND_DIR", str(tmp_path / "another-backend"))
    code, stdout, stderr = run_cli("run", str(QUICKSTART), runs, *FAST, "evaluate.baseline=null")
    assert code == 2
    assert f"does not know job {job_id}" in stderr
    assert folder.load_state().status == "succeeded"
