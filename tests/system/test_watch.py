"""Long jobs hold no worker: with `job.follow: detach` the pipeline ends once the job exists,
and the scheduled watch deployment (`ftkit watch`) carries the run to its report, exactly once
even though its runs overlap (every 2 s, each listening up to 5 s)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ftkit.api import Client, JobStatus
from tests.system.conftest import BIN, QUICKSTART, prefect_server, run_folder, wait_until


@pytest.mark.slow
def test_a_detached_run_is_reported_once_by_overlapping_watch_runs(
    tmp_path: Path, backend: Any
) -> None:
    backend.set_timing(step_seconds=0.15)  # the job outlives several watch runs
    overrides = [
        "name=detached",
        f"runs_dir={tmp_path / 'runs'}",
        f"provider.base_url={backend.url}",
        "job.hyperparameters.n_epochs=1",
        "job.follow=detach",
    ]
    folder = run_folder(overrides)

    with prefect_server(tmp_path / "prefect") as server:
        started = subprocess.run(
            [str(BIN / "ftkit"), "run", str(QUICKSTART), *overrides],
            cwd=tmp_path, env=server.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        state = folder.load_state()
        assert state.status == "running" and state.job_id, state
        assert not (folder.path / "report.json").exists()

        server.ftkit(
            "watch", "--runs-dir", str(tmp_path / "runs"), "--every", "2", "--pool", "watch",
            cwd=tmp_path,
        )  # fmt: skip
        deployment = server.deployment("ftkit-watch/runs")
        with server.worker("watch", "w1", tmp_path):
            wait_until(lambda: folder.load_state().status != "running", 300, "the watch to end it")
            runs = server.flow_runs(deployment.id)
        statuses = server.run(artifacts_with_key, "detached-status")
        pipeline_run = server.run(lambda client: client.read_flow_run(state.flow_run_id))

    assert pipeline_run.state.name == "Waiting on provider", pipeline_run.state
    assert any("Waiting on provider" in str(artifact.data) for artifact in statuses)
    assert folder.load_state().status == "succeeded", folder.load_state()
    assert (folder.path / "report.json").is_file()
    assert len(runs) >= 2
    downloads = [
        r
        for r in backend.stats()["requests"]
        if r["method"] == "GET" and r["path"].endswith("/content")
    ]
    assert len(downloads) == 1, downloads  # results fetched (and the run reported) once
    with Client(base_url=backend.url) as client:
        [job] = client.jobs.list()
    assert job.status is JobStatus.succeeded


async def artifacts_with_key(client: Any, key: str) -> list[Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    return list(
        await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    )
