"""`ftkit deploy` for real: a served deployment on a Prefect server runs the pipeline when
triggered, and cancelling such a run (its runner kills it) cancels the remote job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Cancelling

from ftkit.api import Client, JobStatus
from ftkit.config import load_config
from ftkit.runs import RunFolder, RunIndex, run_id, run_key

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
FTKIT = Path(sys.executable).parent / "ftkit"


@contextmanager
def served(overrides: list[str], cwd: Path, prefect_api: str) -> Iterator[subprocess.Popen[str]]:
    """`ftkit deploy` of the quickstart config, polling for runs every second; stopped after.
    Its output goes to cwd/serve.log (a pipe nobody reads could fill and block it)."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    with (cwd / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [str(FTKIT), "deploy", str(QUICKSTART), *overrides],
            cwd=cwd, env=env, start_new_session=True, text=True, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            yield process
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def trigger(serving: subprocess.Popen[str], name: str) -> UUID:
    """A manual run of the served deployment `name`, once the deployment is registered."""
    async with get_client() as prefect:
        deadline = time.monotonic() + 90
        while True:
            assert serving.poll() is None, f"ftkit deploy exited {serving.returncode}"
            try:
                deployment = await prefect.read_deployment_by_name(f"fine-tune-pipeline/{name}")
                break
            except Exception:  # not registered yet
                assert time.monotonic() < deadline, "the deployment never appeared"
                await asyncio.sleep(0.5)
        flow_run = await prefect.create_flow_run_from_deployment(deployment.id)
        return flow_run.id


async def wait_for_state(
    flow_run_id: UUID, wanted: set[StateType], timeout_s: float = 180
) -> FlowRun:
    async with get_client() as prefect:
        deadline = time.monotonic() + timeout_s
        while True:
            flow_run = await prefect.read_flow_run(flow_run_id)
            if flow_run.state is not None and flow_run.state.type in wanted:
                return flow_run
            assert time.monotonic() < deadline, f"flow run stuck in {flow_run.state}"
            await asyncio.sleep(0.5)


def deployed_config(
    name: str, tmp_path: Path, backend_url: str, *extra: str
) -> tuple[list[str], RunFolder]:
    """Overrides of the quickstart config for one test's deployment `name` (each test serves
    its own: a run created on a deployment another test registered carries that test's
    parameters), and the run folder its runs write to."""
    overrides = [
        f"name={name}",
        f"runs_dir={tmp_path / 'runs'}",
        f"provider.base_url={backend_url}",
    ]
    overrides += extra
    config = load_config(QUICKSTART, overrides)
    return overrides, RunFolder(config.runs_dir / config.name / run_id(run_key(config)))


def training_started(folder: RunFolder) -> bool:
    events = folder.events.events_path
    return events.is_file() and b"Step " in events.read_bytes()


async def describe(flow_run_id: UUID) -> str:
    """The flow run's state, for a failing assertion."""
    async with get_client() as prefect:
        flow_run = await prefect.read_flow_run(flow_run_id)
    return f"flow run {flow_run.name}: {flow_run.state}"


@pytest.mark.slow
def test_a_triggered_run_of_the_served_deployment_runs_the_whole_pipeline(
    tmp_path: Path, prefect_api: str, backend
) -> None:  # type: ignore[no-untyped-def]
    overrides, folder = deployed_config(
        "served-run", tmp_path, backend.url, "job.hyperparameters.n_epochs=1"
    )

    with served(overrides, tmp_path, prefect_api) as serving:
        flow_run_id = asyncio.run(trigger(serving, "served-run"))
        final = asyncio.run(
            wait_for_state(flow_run_id, {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED})
        )

    assert final.state is not None and final.state.type is StateType.COMPLETED, final.state
    state = folder.load_state()
    assert (state.status, state.flow_run_id) == ("succeeded", str(flow_run_id))
    assert (folder.path / "report.html").is_file()
    [entry] = RunIndex(tmp_path / "runs").entries()
    assert entry.status == "succeeded" and entry.metrics["accuracy"] > 0.5
    with Client(base_url=backend.url) as client:
        assert client.jobs.get(state.job_id).status is JobStatus.succeeded


@pytest.mark.slow
def test_cancelling_a_served_run_cancels_its_remote_job(
    tmp_path: Path, prefect_api: str, backend
) -> None:  # type: ignore[no-untyped-def]
    backend.set_timing(step_seconds=0.05)  # training lasts long enough to be cancelled
    overrides, folder = deployed_config(
        "served-cancel", tmp_path, backend.url, "evaluate.enabled=false"
    )

    with served(overrides, tmp_path, prefect_api) as serving:
        flow_run_id = asyncio.run(trigger(serving, "served-cancel"))
        deadline = time.monotonic() + 120
        while not training_started(folder):
            assert time.monotonic() < deadline, asyncio.run(describe(flow_run_id))
            time.sleep(0.2)

        async def cancel() -> FlowRun:
            async with get_client() as prefect:
                await prefect.set_flow_run_state(flow_run_id, Cancelling(), force=True)
            return await wait_for_state(flow_run_id, {StateType.CANCELLED}, timeout_s=60)

        asyncio.run(cancel())
        deadline = time.monotonic() + 30
        while folder.load_state().status != "cancelled":
            assert time.monotonic() < deadline, folder.load_state()
            time.sleep(0.2)

    with Client(base_url=backend.url) as client:
        assert client.jobs.get(folder.load_state().job_id).status is JobStatus.cancelled
