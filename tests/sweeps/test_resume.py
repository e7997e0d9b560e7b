"""A sweep killed mid-way resumes: finished trials are reused, the running one re-attaches to
its job, the failed one is retried; a failed trial never stops the others and is listed as
failed on the leaderboard."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from typer.testing import CliRunner

from ftkit.api import Client
from ftkit.cli import app
from ftkit.config import load_config
from ftkit.runs.atomic import read_json
from ftkit.sweeps.search import expand_sweep, plan_sweep

FTKIT = Path(sys.executable).parent / "ftkit"
COUPLED = (
    "sweep.coupled=[{job.model: no-such-model}, {job.hyperparameters.n_epochs: 1},"
    " {job.hyperparameters.n_epochs: 2}]"
)


def status(run_dir: Path) -> str | None:
    path = run_dir / "run.json"
    return read_json(path)["status"] if path.is_file() else None


def training(run_dir: Path) -> bool:
    events = run_dir / "events.jsonl"
    return events.is_file() and b"Step " in events.read_bytes()


@pytest.mark.slow
def test_a_killed_sweep_resumes_reusing_reattaching_and_retrying(
    tmp_path: Path, sweep_args: list[str], backend, prefect_api: str
) -> None:  # type: ignore[no-untyped-def]
    args = [*sweep_args, "sweep.parameters={}", COUPLED, "sweep.max_parallel=1"]
    config = load_config(args[0], args[1:])
    plan = plan_sweep(config, expand_sweep(config))
    failing, finished, running = (tmp_path / "runs" / config.name / t.run_id for t in plan.trials)
    backend.set_timing(step_seconds=0.05)  # slow enough to be caught training
    process = subprocess.Popen(
        [str(FTKIT), "run", *args],
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (status(finished) == "succeeded" and training(running)):
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "timed out waiting for the second trial to train"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert status(failing) == "failed" and status(running) == "running"
    job_of_running = read_json(running / "run.json")["job_id"]
    sweep_dir = tmp_path / "runs" / config.name / "sweeps" / plan.sweep_id
    killed_parent = read_json(sweep_dir / "flow_run.json")["flow_run_id"]
    backend.set_timing(step_seconds=0.0)

    result = CliRunner().invoke(app, ["run", *args, "--format", "json"])
    assert result.exit_code == 1, result.output  # one trial failed; the others still ran
    board = json.loads(result.stdout)["leaderboard"]
    rows = {row["run_id"]: row for row in board["rows"]}
    assert rows[finished.name]["status"] == rows[running.name]["status"] == "succeeded"
    assert {rows[finished.name]["rank"], rows[running.name]["rank"]} == {1, 2}
    assert rows[failing.name]["status"] == "failed" and rows[failing.name]["rank"] is None
    assert "no-such-model" in rows[failing.name]["error"]
    assert board["rows"][-1]["run_id"] == failing.name, "unranked trials come last"

    assert read_json(finished / "run.json")["attempts"] == 1, "a finished trial is reused"
    assert read_json(running / "run.json")["job_id"] == job_of_running, "re-attached"
    assert read_json(failing / "run.json")["attempts"] == 2, "a failed trial is retried"
    with Client(base_url=backend.url) as client:
        assert len(client.jobs.list()) == 2, "no trial trained twice"
    markdown = (Path(json.loads(result.stdout)["folder"]) / "leaderboard.md").read_text()
    assert "## Failed trials" in markdown and failing.name in markdown

    async def parent_state() -> StateType | None:
        async with get_client() as prefect:
            state = (await prefect.read_flow_run(UUID(killed_parent))).state
            return state.type if state else None

    assert asyncio.run(parent_state()) is StateType.CRASHED, "the killed parent is settled"
