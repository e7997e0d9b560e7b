"""Restarts lose nothing: files and finished jobs stay, running jobs resume without duplicate
events, and a killed server leaves no worker behind."""

from __future__ import annotations

import base64
import csv
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ftkit.backend import BackendSettings
from ftkit.backend.testing import started_backend
from tests.backend.conftest import (
    DONE,
    kill_9,
    metrics_steps,
    start_serve,
    upload,
    wait_for,
    wait_until,
)


def test_restart_mid_training_resumes_the_same_job(tmp_path: Path, train_file: Path) -> None:
    """Stop the server while a job trains; a new server on the same data dir finishes it,
    re-running the same steps (same losses), recording no event twice."""
    data_dir = tmp_path / "data"
    with (
        started_backend(BackendSettings(data_dir=data_dir, step_seconds=0.01)) as first,
        httpx.Client(base_url=first.url) as api,
    ):
        file = upload(api, train_file)
        done_before = api.post(
            "/fine-tunes", json={"training_file": file["id"], "model": "ada", "n_epochs": 1}
        ).json()
        wait_for(api, f"/fine-tunes/{done_before['id']}", DONE)
        job = api.post(
            "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
        ).json()
        wait_until(lambda: len(metrics_steps(api, job["id"])) >= 5)
        events = api.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 1000}).json()
        before = {e["data"]["step"]: e["data"]["train_loss"] for e in events["data"] if e["data"]}
    with (
        started_backend(BackendSettings(data_dir=data_dir)) as second,
        httpx.Client(base_url=second.url) as api,
    ):
        assert api.get(f"/files/{file['id']}/content").content == train_file.read_bytes()
        assert api.get(f"/fine-tunes/{done_before['id']}").json()["status"] == "succeeded"
        final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
        assert final["status"] == "succeeded"
        steps = metrics_steps(api, job["id"])
        assert len(steps) == len(set(steps)) and max(steps) == 240
        events = api.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 1000}).json()
        counts = Counter(e["message"] for e in events["data"] if e["type"] == "message")
        assert counts["Fine-tuning job started"] == 1 and max(counts.values()) == 1
        csv_text = base64.b64decode(api.get(f"/files/{final['result_files'][0]}/content").content)
        rerun = {
            int(row[0]): float(row[1]) for row in csv.reader(csv_text.decode().splitlines()[1:])
        }
        assert {step: round(loss, 5) for step, loss in before.items()} == {
            step: rerun[step] for step in before
        }


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find worker processes")
def test_kill_9_leaves_no_worker_and_the_job_resumes(tmp_path: Path, train_file: Path) -> None:
    """SIGKILL `ftkit serve` mid-training: its workers exit; a new server finishes the job."""
    data_dir = tmp_path / "data"
    server, root = start_serve(data_dir, "--enable-faults")
    try:
        with httpx.Client(base_url=root + "/v1", timeout=30) as api:
            slowed = httpx.post(root + "/_ftkit/settings", json={"step_seconds": 0.02})
            assert slowed.status_code == 200
            file = upload(api, train_file)
            job = api.post(
                "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
            ).json()
            wait_until(lambda: len(metrics_steps(api, job["id"])) >= 3)
        kill_9(server)
    finally:
        server.kill()
    with (
        started_backend(BackendSettings(data_dir=data_dir)) as backend,
        httpx.Client(base_url=backend.url) as api,
    ):
        assert wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)["status"] == "succeeded"
        steps = metrics_steps(api, job["id"])
        assert len(steps) == len(set(steps))


def test_two_servers_on_one_data_dir_share_jobs_without_duplicating_them(
    tmp_path: Path, train_file: Path
) -> None:
    """The second server neither re-runs nor duplicates the first one's job (its long queue delay
    leaves the job to the first); a cancel through the second server stops the training."""
    data_dir = tmp_path / "data"
    with (
        started_backend(BackendSettings(data_dir=data_dir, step_seconds=0.02)) as first,
        httpx.Client(base_url=first.url) as api_first,
        started_backend(BackendSettings(data_dir=data_dir, queue_seconds=60)) as second,
        httpx.Client(base_url=second.url) as api_second,
    ):
        file = upload(api_first, train_file)
        job = api_first.post(
            "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
        ).json()
        wait_until(lambda: len(metrics_steps(api_second, job["id"])) >= 3)
        time.sleep(0.5)
        steps = metrics_steps(api_second, job["id"])
        assert len(steps) == len(set(steps)) and max(steps) < 100  # trained once, slowly
        api_second.post(f"/fine_tuning/jobs/{job['id']}/cancel")
        time.sleep(1.5)
        steps_after_cancel = max(metrics_steps(api_first, job["id"]))
        time.sleep(0.5)
        assert max(metrics_steps(api_first, job["id"])) == steps_after_cancel
        assert api_first.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "cancelled"
