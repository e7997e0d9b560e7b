"""`provider.max_concurrent_jobs`: a Prefect global concurrency limit, so trials wait for a job
slot instead of overrunning the provider, even with more trials allowed in parallel. The same
sweep ranks on a held-out metric, which is scored on the validation split, not the test split."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prefect import get_client
from typer.testing import CliRunner

from flows.concurrency import limit_name
from ftkit.api import Client
from ftkit.cli import app
from ftkit.config import load_config


@pytest.mark.slow
def test_trials_wait_for_a_job_slot_and_rank_on_validation_f1(
    sweep_args: list[str], backend, prefect_api: str
) -> None:  # type: ignore[no-untyped-def]
    args = [
        *sweep_args, "sweep.parameters={job.hyperparameters.n_epochs: [1, 2]}",
        "sweep.max_parallel=2", "provider.max_concurrent_jobs=1", "sweep.metric=f1_macro",
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["run", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)["leaderboard"]
    assert board["goal"] == "maximize" and [row["rank"] for row in board["rows"]] == [1, 2]
    for row in board["rows"]:
        run_dir = Path(args[1].removeprefix("runs_dir=")) / board["experiment"] / row["run_id"]
        scores = json.loads((run_dir / "validation_scores.json").read_text())
        prepared = json.loads((run_dir / "prepared" / "validation.json").read_text())
        assert scores["examples"] == prepared["splits"]["validation"]["examples"]
        assert row["metric"] == scores["metrics"]["f1_macro"]
        report = json.loads((run_dir / "report.json").read_text())
        assert report["split"] == "test" and row["heldout"] == report["evaluation"]["metrics"]
    with Client(base_url=backend.url) as client:
        first, second = sorted(client.jobs.list(), key=lambda job: job.created_at)
    assert first.finished_at is not None
    assert second.created_at >= first.finished_at, "the second job waited for the first"

    async def read_limit() -> int:
        async with get_client() as client:
            name = limit_name(load_config(args[0], args[1:]).provider)
            return (await client.read_global_concurrency_limit_by_name(name)).limit

    assert asyncio.run(read_limit()) == 1
