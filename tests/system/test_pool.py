"""`ftkit deploy --pool` on a real server and a real `prefect worker`: cancelling a worker run
cancels its remote job on the embedded backend the flow run started itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ftkit.api import Client, JobStatus
from ftkit.backend import BackendSettings, running_backend
from ftkit.config import load_config
from ftkit.runs import RunFolder, run_id, run_key
from ftkit.runs.endpoint import BACKEND_DIR, STEP_SECONDS_ENV
from tests.system.conftest import QUICKSTART, prefect_server, wait_until


@pytest.mark.slow
def test_cancelling_a_worker_run_cancels_the_job_of_its_in_process_backend(
    tmp_path: Path,
) -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelling

    overrides = ["name=pool-cancel", f"runs_dir={tmp_path / 'runs'}", "evaluate.enabled=false"]
    config = load_config(QUICKSTART, overrides)
    folder = RunFolder(config.runs_dir / config.name / run_id(run_key(config)))
    with prefect_server(tmp_path / "prefect") as server:
        server.ftkit("deploy", str(QUICKSTART), *overrides, "--pool", "cancel", cwd=tmp_path)
        deployment = server.deployment("fine-tune-pipeline/pool-cancel")
        with server.worker("cancel", "w1", tmp_path, **{STEP_SECONDS_ENV: "0.05"}):
            flow_run = server.run(
                lambda client: client.create_flow_run_from_deployment(deployment.id)
            )
            wait_until(lambda: training_started(folder), 240, "training to start")
            server.run(
                lambda client: client.set_flow_run_state(flow_run.id, Cancelling(), force=True)
            )
            wait_until(
                lambda: server.flow_run(flow_run.id).state_type == StateType.CANCELLED,
                90,
                "the flow run to be cancelled",
            )
            wait_until(lambda: folder.load_state().status == "cancelled", 30, "run.json")
        hook_logs = server.run(log_lines, flow_run.id)
    assert "Hook 'cancel_remote_job' finished running successfully" in hook_logs
    assert "error was encountered while running hook" not in hook_logs
    state = folder.load_state()
    assert state.status == "cancelled"
    settings = BackendSettings(data_dir=tmp_path / BACKEND_DIR)
    with running_backend(settings) as url, Client(base_url=url) as client:
        assert client.jobs.get(state.job_id).status is JobStatus.cancelled


def training_started(folder: RunFolder) -> bool:
    events = folder.events.events_path
    return events.is_file() and b"Step " in events.read_bytes()


async def log_lines(client: Any, flow_run_id: Any) -> str:
    """Every log line of the flow run (the runner sends its hooks' lines there too)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = await client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    )
    return "\n".join(log.message for log in logs)
