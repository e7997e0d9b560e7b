"""`ftkit deploy --pool` on a real server and a real `prefect worker`: cancelling a worker run
cancels its remote job on the embedded backend the flow run started itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftkit.api import Client, JobStatus
from ftkit.backend import BackendSettings, running_backend
from ftkit.runs.endpoint import BACKEND_DIR_ENV, STEP_SECONDS_ENV
from tests.system.conftest import (
    QUICKSTART,
    prefect_server,
    run_folder,
    training_started,
    wait_until,
)


@pytest.mark.slow
def test_cancelling_a_worker_run_cancels_the_job_of_its_in_process_backend(
    tmp_path: Path,
) -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelling

    overrides = ["name=pool-cancel", f"runs_dir={tmp_path / 'runs'}", "evaluate.enabled=false"]
    folder = run_folder(overrides)
    with prefect_server(tmp_path / "prefect") as server:
        server.ftkit("deploy", str(QUICKSTART), *overrides, "--pool", "cancel", cwd=tmp_path)
        deployment = server.deployment("fine-tune-pipeline/pool-cancel")
        slow_local_backend = {STEP_SECONDS_ENV: "0.05", BACKEND_DIR_ENV: str(tmp_path / "backend")}
        with server.worker("cancel", "w1", tmp_path, **slow_local_backend):
            flow_run = server.run(
                lambda client: client.create_flow_run_from_deployment(deployment.id)
            )
            wait_until(lambda: training_started(folder), 240, "training to start")
            server.run(
                lambda client: client.set_flow_run_state(flow_run.id, Cancelling(), force=True)
            )
            # the runner kills the flow run, runs the hook, then marks it cancelled
            wait_until(lambda: folder.load_state().status == "cancelled", 240, "run.json")
            wait_until(
                lambda: server.flow_run(flow_run.id).state_type == StateType.CANCELLED,
                240,
                "the flow run to be cancelled",
            )
    state = folder.load_state()
    assert state.status == "cancelled", state
    assert state.error is not None and "cancelled" in state.error.message, state.error
    settings = BackendSettings(data_dir=tmp_path / "backend")
    with running_backend(settings) as url, Client(base_url=url) as client:
        assert client.jobs.get(state.job_id).status is JobStatus.cancelled
