"""A real `ftkit serve` killed while it fine-tunes SmolLM2: started again on the same data
directory, it trains the same job on from its last saved state (see
tests/backend/test_restart.py for the fast learner)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.backend.conftest import (
    kill_9,
    metrics_steps,
    start_serve,
    upload,
    wait_for,
    wait_until,
    write_jsonl,
)
from tests.lm.conftest import FRUITS, LM_BASE_MODEL, TOOLS, requires_lm, rows, supervised

pytestmark = [
    pytest.mark.lm,
    pytest.mark.slow,
    requires_lm,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find worker processes"),
]


def test_a_killed_server_trains_the_job_on_from_its_saved_state(tmp_path: Path) -> None:
    """SIGKILL `ftkit serve` after the job's resume state is saved and a few steps more; the
    next server resumes the job after the saved step (an event says so), records every step of
    the 24 once, and serves a model that answers the taught tags. Neither server prints a
    FutureWarning or deprecation notice."""
    import torch

    data_dir = tmp_path / "data"
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with logs[0].open("wb") as log:
        server, root = start_serve(data_dir, stderr=log)
    try:
        with httpx.Client(base_url=root + "/v1", timeout=60) as api:
            file = upload(api, write_jsonl(tmp_path / "t.jsonl", rows(48)))
            job = api.post(
                "/fine_tuning/jobs",
                json={
                    "model": LM_BASE_MODEL,
                    "training_file": file["id"],
                    "method": supervised(n_epochs=1, batch_size=2, learning_rate_multiplier=0.2),
                    "seed": 5,
                },
            ).json()
            state = data_dir / "jobs" / job["id"] / "resume" / "state.pt"
            wait_until(lambda: state.is_file() and len(metrics_steps(api, job["id"])) >= 5, 300)
        kill_9(server)
    finally:
        server.kill()
    saved = int(torch.load(state, weights_only=True)["step"])
    assert 3 <= saved < 24

    with logs[1].open("wb") as log:
        server, root = start_serve(data_dir, stderr=log)
    try:
        with httpx.Client(base_url=root + "/v1", timeout=120) as api:
            final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", ("succeeded", "failed"), 600)
            assert final["status"] == "succeeded", final["error"]
            assert sorted(metrics_steps(api, job["id"])) == list(range(1, 25))
            events = api.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 1000})
            messages = Counter(e["message"] for e in events.json()["data"])
            resumed = (
                f"Training resumed at step {saved + 1}/24 from the state saved at step {saved}"
            )
            assert messages[resumed] == 1, messages
            assert messages["Fine-tuning job started"] == 1
            words = (FRUITS[0], FRUITS[-1], TOOLS[0], TOOLS[-1])
            answers = [
                api.post(
                    "/completions",
                    json={
                        "model": final["fine_tuned_model"],
                        "prompt": f"Word: {word}\nTag:",
                        "max_tokens": 3,
                        "temperature": 0,
                    },
                ).json()["choices"][0]["text"]
                for word in words
            ]
            assert [a.strip() for a in answers] == ["zig", "zig", "zag", "zag"], answers
    finally:
        server.kill()
        server.wait(10)
    for path in logs:
        text = path.read_text(errors="replace")
        assert "FutureWarning" not in text and "deprecated" not in text, text
