"""Chaos: real pipeline runs against a backend that fails, loses answers, restarts and is shared,
while `ftkit run` is killed and raced. Every check reads the backend's own records (`audit`):
one job per run key, one stored file per distinct content, every event recorded once, and no
process left behind. Bounded: quickstart with one epoch, no evaluation unless a phase needs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState
from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
from prefect.client.schemas.objects import StateType

from flows.pipeline import fine_tune_pipeline
from ftkit.api import Client
from ftkit.backend import BackendSettings, running_backend
from ftkit.backend.chaos import Audit, audit, faults_seen
from ftkit.backend.lossy_proxy import LoseAnswers, lossy_proxy
from ftkit.backend.testing import started_backend
from ftkit.config import ExperimentConfig, load_config
from ftkit.runs import RunFolder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
FTKIT = Path(sys.executable).parent / "ftkit"
FAST = ["job.hyperparameters.n_epochs=1", "evaluate.enabled=false", "provider.max_retries=8"]


def config(runs: Path, url: str, *extra: str) -> list[str]:
    """`ftkit run` arguments (config path first) for a quick quickstart against `url`."""
    return [str(QUICKSTART), f"runs_dir={runs}", f"provider.base_url={url}", *FAST, *extra]


def folder_of(args: list[str]) -> RunFolder:
    return RunFolder.for_config(load_config(args[0], args[1:]))


def wait_for(condition, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


class Commands:
    """`ftkit run` subprocesses, each in its own process group; none may outlive the test."""

    def __init__(self, prefect_api: str, cwd: Path) -> None:
        self.env = {**os.environ, "PREFECT_API_URL": prefect_api}
        self.cwd = cwd
        self.started: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], **env: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [str(FTKIT), "run", *args],
            cwd=self.cwd,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def finish(self, process: subprocess.Popen[str], timeout_s: float = 240) -> str:
        """Wait for a command that must succeed; its stderr."""
        _, stderr = process.communicate(timeout=timeout_s)
        assert process.returncode == 0, stderr[-2000:]
        return stderr

    def assert_none_left(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                pytest.fail(f"ftkit run (pid {process.pid}) was still running")
            wait_for(lambda p=process: not group_alive(p.pid), 30)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def commands(prefect_api: str, tmp_path: Path) -> Iterator[Commands]:
    made = Commands(prefect_api, tmp_path)
    yield made
    made.assert_none_left()


def assert_clean(found: Audit, *, jobs: int) -> None:
    assert found.clean, found
    assert found.jobs == jobs, found


def crashed_flow_runs_since(started: float) -> list[str]:
    async def read() -> list[str]:
        async with get_client() as prefect:
            found = await prefect.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=StateTypeFilter(any_=[StateType.CRASHED]))
                )
            )
        return [r.name for r in found if r.start_time and r.start_time.timestamp() >= started]

    return asyncio.run(read())


def run_flows(configs: list[ExperimentConfig]) -> list[Any]:
    """Run the pipeline flow for each config concurrently in this process; final states."""

    async def all_runs() -> list[Any]:
        return list(
            await asyncio.gather(*(fine_tune_pipeline(c, return_state=True) for c in configs))
        )

    return asyncio.run(all_runs())


def test_runs_under_faults_and_lost_answers_pay_once_and_lose_no_event(
    backend, prefect_api: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Three runs at once; the backend answers ~25 % of requests with 429 or drops them, and a
    proxy loses every second answer to uploads and job creations after the server acted."""
    backend.set_faults(error_rate=0.2, error_status=429, retry_after_ms=20, drop_rate=0.1, seed=1)
    loses = LoseAnswers(r"^POST /v1/(files|fine_tuning/jobs)$", every=2)
    with lossy_proxy(backend.url, loses) as url:
        configs = [
            load_config(QUICKSTART, config(tmp_path / "runs", url, f"job.seed={seed}")[1:])
            for seed in (1, 2, 3)
        ]
        states = run_flows(configs)
    assert all(state.is_completed() for state in states), states
    assert faults_seen(backend.stats()) > 0 and loses.lost > 0
    backend.clear_faults()
    with Client(base_url=backend.url) as client:
        found = audit(client, [RunFolder.for_config(c).path for c in configs])
    assert_clean(found, jobs=3)


def test_two_runs_of_one_config_at_once_make_one_job_and_one_writer(
    backend, commands: Commands, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Two `ftkit run`s of one config start together while job lists take 1 s: one uploads,
    creates and follows; the other waits, reading only; no flow run is marked Crashed."""
    args = config(tmp_path / "runs", backend.url)
    backend.set_faults(latency_s=1.0, methods=["GET"], path_pattern=r"/fine_tuning/jobs$")
    started = time.time()
    both = [commands.start(args) for _ in range(2)]
    outputs = [commands.finish(process) for process in both]
    assert sum("waiting for another runner" in err for err in outputs) == 1
    counts = backend.stats()["counts"]
    assert counts.get("POST /v1/fine_tuning/jobs") == 1
    assert counts.get("POST /v1/files") == 2  # training and validation split, once each
    backend.clear_faults()
    with Client(base_url=backend.url) as client:
        assert_clean(audit(client, [folder_of(args).path]), jobs=1)
    assert crashed_flow_runs_since(started) == []


PHASES = ["upload", "create_job", "follow", "fetch_results", "evaluate", "report"]


def test_sigkill_at_each_phase_then_rerun_finishes_the_one_job(
    backend, commands: Commands, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """kill -9 `ftkit run` in each phase in turn (each re-run resumes the last); the run ends
    with one job, each file stored once and every event recorded once."""
    args = config(tmp_path / "runs", backend.url, "evaluate.enabled=true", "evaluate.baseline=null")
    folder = folder_of(args)
    slow = r"/v1/(files|fine_tuning/jobs|files/[^/]+/content|completions)$"
    backend.set_faults(latency_s=1.0, path_pattern=slow)
    backend.set_timing(step_seconds=0.01)
    killed_in = []
    for phase in PHASES:
        process = commands.start(args)
        wait_for(lambda p=process, s=phase: folder.load_state().stage == s or p.poll() is not None)
        if process.poll() is not None:
            break  # the phase passed faster than we looked (report is local and quick)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_in.append(phase)
    assert killed_in[:5] == PHASES[:5]
    backend.clear_faults()
    backend.set_timing(step_seconds=0)
    commands.finish(commands.start(args))
    state = folder.load_state()
    assert state.status == "succeeded" and state.attempts >= len(killed_in) + 1
    with Client(base_url=backend.url) as client:
        assert_clean(audit(client, [folder.path]), jobs=1)


def test_a_backend_restart_mid_training_resumes_the_same_job(
    commands: Commands, tmp_path: Path
) -> None:
    """The backend stops while the job trains and comes back on the same port and data: the run
    rides it out and finishes the same job, every event once."""
    settings = BackendSettings(data_dir=tmp_path / "backend", step_seconds=0.01)
    with running_backend(settings) as url:
        args = config(tmp_path / "runs", url)
        folder = folder_of(args)
        process = commands.start(args)
        wait_for(lambda: b"Step " in folder.events.events_path.read_bytes()
                 if folder.events.events_path.is_file() else False)  # fmt: skip
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    time.sleep(1.0)  # down for a while: requests fail meanwhile
    with running_backend(settings.model_copy(update={"port": port})) as again:
        assert again == url
        commands.finish(process)
        with Client(base_url=url) as client:
            assert_clean(audit(client, [folder.path]), jobs=1)


def test_two_tenants_with_one_config_each_get_their_own_job(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two API keys run the same config at once: each tenant sees one job, its own."""
    keys = {"CHAOS_KEY_A": "sk-tenant-a", "CHAOS_KEY_B": "sk-tenant-b"}
    for name, key in keys.items():
        monkeypatch.setenv(name, key)
    settings = BackendSettings(data_dir=tmp_path / "backend", api_keys=list(keys.values()))
    with started_backend(settings) as backend:
        configs = [
            load_config(
                QUICKSTART,
                config(tmp_path / name, backend.url, f"provider.api_key_env={name}")[1:],
            )
            for name in keys
        ]
        states = run_flows(configs)
        assert all(state.is_completed() for state in states), states
        for cfg in configs:
            with Client(cfg.provider) as client:
                found = audit(client, [RunFolder.for_config(cfg).path])
            assert_clean(found, jobs=1)
        job_ids = {RunFolder.for_config(cfg).load_state().job_id for cfg in configs}
        assert len(job_ids) == 2
