"""Resuming after kill -9 and cancelling through Prefect: one job per run key, every event once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelling

from flows import cancellation
from flows.pipeline import fine_tune_pipeline
from ftkit.api import Client, JobStatus
from ftkit.backend import BackendSettings, running_backend
from ftkit.config import load_config
from ftkit.runs import RunFolder, RunIndex, run_id, run_key
from ftkit.runs.endpoint import STEP_SECONDS_ENV, default_backend_dir

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
FTKIT = Path(sys.executable).parent / "ftkit"


def event_ids(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [orjson.loads(line)["id"] for line in path.read_bytes().splitlines() if line.strip()]


def wait_for(condition, timeout_s: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def training_started(events_path: Path) -> bool:
    return events_path.is_file() and b"Step " in events_path.read_bytes()


@pytest.mark.slow
def test_rerun_after_kill_9_resumes_the_same_job_without_losing_events(
    tmp_path: Path, prefect_api: str
) -> None:
    """kill -9 while training, run the same command again: one job, completed, events exact;
    the killed attempt's flow run (left RUNNING) is marked Crashed."""
    args = [
        str(FTKIT), "run", str(QUICKSTART), f"runs_dir={tmp_path / 'runs'}",
        "job.hyperparameters.n_epochs=1", "evaluate.enabled=false",
    ]  # fmt: skip
    env = {**os.environ, "PREFECT_API_URL": prefect_api, STEP_SECONDS_ENV: "0.01"}
    config = load_config(QUICKSTART, args[3:])
    folder = RunFolder(config.runs_dir / config.name / run_id(run_key(config)))

    first = subprocess.Popen(
        args, cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: training_started(folder.events.events_path))
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the CLI, its backend and its training workers
        first.wait()
    killed = folder.load_state()
    assert killed.status == "running"
    seen_before = event_ids(folder.events.events_path)

    second = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert second.returncode == 0, second.stderr[-2000:]
    state = folder.load_state()
    assert (state.status, state.attempts) == ("succeeded", 2)

    with (
        running_backend(BackendSettings(data_dir=default_backend_dir())) as url,
        Client(base_url=url) as client,
    ):
        [job] = client.jobs.list()
        assert (job.id, job.status) == (state.job_id, JobStatus.succeeded)
        remote_ids = [event.id for event in client.jobs.events(job.id)]
    logged = event_ids(folder.events.events_path)
    assert remote_ids == logged
    assert seen_before == logged[: len(seen_before)]

    async def flow_run_state(flow_run_id: str) -> StateType | None:
        async with get_client() as prefect:
            found = await prefect.read_flow_run(UUID(flow_run_id))
        return found.state.type if found.state else None

    assert asyncio.run(flow_run_state(killed.flow_run_id)) is StateType.CRASHED  # type: ignore[arg-type]


@pytest.mark.slow
def test_cancelling_the_flow_run_cancels_the_remote_job(
    tmp_path: Path, backend, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """`prefect flow-run cancel` (state → CANCELLING) on a directly started run cancels its job."""
    monkeypatch.setattr(cancellation, "CHECK_INTERVAL_S", 0.2)
    backend.set_timing(step_seconds=0.02)
    config = load_config(
        QUICKSTART, [f"runs_dir={tmp_path / 'runs'}", f"provider.base_url={backend.url}"]
    )
    folder = RunFolder(config.runs_dir / config.name / run_id(run_key(config)))

    async def cancel_while_training():  # type: ignore[no-untyped-def]
        flow = asyncio.ensure_future(fine_tune_pipeline(config, return_state=True))
        while not training_started(folder.events.events_path):
            assert not flow.done(), flow.result()
            await asyncio.sleep(0.1)
        async with get_client() as prefect:
            await prefect.set_flow_run_state(
                UUID(folder.load_state().flow_run_id), Cancelling(), force=True
            )
        return await flow

    final = asyncio.run(cancel_while_training())
    assert final.is_cancelled()
    state = folder.load_state()
    assert state.status == "cancelled"
    with Client(base_url=backend.url) as client:
        assert client.jobs.get(state.job_id).status is JobStatus.cancelled
    [entry] = RunIndex(tmp_path / "runs").entries()
    assert entry.status == "cancelled"
