"""A sweep spread over a work pool: a PostgreSQL-backed Prefect server, two real `prefect worker`
processes, and `ftkit run configs/sweep.yaml sweep.pool=POOL` against one embedded backend.

Every trial runs as a flow run of the pipeline's deployment, a child of the sweep's parent flow
run; both workers take trials; each trial makes exactly one remote job; the provider's job-slot
limit holds across the workers; the leaderboard ranks every trial with its own report's numbers;
running the sweep again reuses every finished trial.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flows.concurrency import limit_name
from ftkit.api import Client, Job
from ftkit.config import load_config
from tests.system.conftest import BIN, ROOT, executed_by, postgres, prefect_server

SWEEP = ROOT / "configs" / "sweep.yaml"
EXPERIMENT = "support-tickets-sweep"
MAX_JOBS = 2


def most_jobs_at_once(jobs: list[Job]) -> int:
    """The most jobs that were training at the same moment (from their created/finished times)."""
    return max(
        sum(
            1
            for other in jobs
            if other.created_at <= job.created_at < (other.finished_at or job.created_at + 1)
        )
        for job in jobs
    )


async def parent_and_children(client: Any, name: str) -> tuple[Any, list[Any], Any]:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterParentFlowRunId,
    )

    (parent,) = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
    )
    children = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
        )
    )
    deployment = await client.read_deployment_by_name(f"fine-tune-pipeline/{EXPERIMENT}")
    return parent, children, deployment


@pytest.mark.slow
def test_a_sweep_on_a_pool_runs_each_trial_once_on_either_worker_as_a_child_of_the_sweep(
    tmp_path: Path, backend: Any
) -> None:
    backend.set_timing(step_seconds=0.01)  # jobs train long enough to overlap
    tickets = tmp_path / "tickets.jsonl"
    lines = (ROOT / "datasets" / "support_tickets.jsonl").read_text().splitlines()[:100]
    tickets.write_text("\n".join(lines) + "\n")
    runs = tmp_path / "runs"
    args = [
        str(SWEEP), f"runs_dir={runs}", f"provider.base_url={backend.url}",
        f"data.source={tickets}", "sweep.pool=sweeps", "sweep.max_parallel=4",
        f"provider.max_concurrent_jobs={MAX_JOBS}",
    ]  # fmt: skip
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}
    with (
        postgres() as database_url,
        prefect_server(tmp_path / "prefect", database_url) as server,
        server.worker("sweeps", "w1", tmp_path, limit=2),
        server.worker("sweeps", "w2", tmp_path, limit=2),
    ):
        done = subprocess.run(
            [str(BIN / "ftkit"), "run", *args, "--format", "json"],
            env=server.env, cwd=tmp_path, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-5000:]
        board = json.loads(done.stdout)["leaderboard"]
        name = f"{EXPERIMENT}/sweep-{board['sweep_id']}"
        parent, children, deployment = server.run(parent_and_children, name)
        again = subprocess.run(
            [str(BIN / "ftkit"), "run", *args, "--format", "json"],
            env=server.env, cwd=tmp_path, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        limit = server.run(
            lambda client: client.read_global_concurrency_limit_by_name(
                limit_name(load_config(args[0], args[1:]).provider)
            )
        )

    assert "trials run as flow runs of deployment" in done.stderr
    assert parent.state.is_completed() and parent.deployment_id is None
    rows = {row["run_id"]: row for row in board["rows"]}
    assert len(rows) == 4 and sorted(row["rank"] for row in rows.values()) == [1, 2, 3, 4]
    by_name = {child.name: child for child in children}
    assert sorted(by_name) == sorted(f"{EXPERIMENT}/{run_id}" for run_id in rows)
    for run_id, row in rows.items():
        child = by_name[f"{EXPERIMENT}/{run_id}"]
        assert child.deployment_id == deployment.id and child.state.is_completed()
        epochs = row["values"]["job.hyperparameters.n_epochs"]
        lr = row["values"]["job.hyperparameters.learning_rate_multiplier"]
        assert {f"n_epochs={epochs}", f"learning_rate_multiplier={lr}"} <= set(child.tags)
        assert child.parameters["config"] == str(SWEEP)
        assert child.parameters["overrides"][-3:] == [
            "sweep={}",
            f"job.hyperparameters.learning_rate_multiplier={lr}",
            f"job.hyperparameters.n_epochs={epochs}",
        ]
    ran = {name: {c.name for c in children if executed_by(log, c.id)} for name, log in logs.items()}
    print(f"trials per worker: { {name: len(names) for name, names in ran.items()} }")
    assert ran["w1"] and ran["w2"], ran
    assert ran["w1"] | ran["w2"] == set(by_name) and not ran["w1"] & ran["w2"]

    assert again.returncode == 0, again.stderr[-5000:]
    assert json.loads(again.stdout)["leaderboard"]["rows"] == board["rows"]
    with Client(base_url=backend.url) as client:
        jobs = client.jobs.list()  # after the re-run too: finished trials were reused
    states = {
        run_id: json.loads((runs / EXPERIMENT / run_id / "run.json").read_text()) for run_id in rows
    }
    assert sorted(job.id for job in jobs) == sorted(state["job_id"] for state in states.values())
    print(f"most jobs training at once: {most_jobs_at_once(jobs)} (limit {MAX_JOBS})")
    assert limit.limit == MAX_JOBS and most_jobs_at_once(jobs) <= MAX_JOBS

    for run_id, row in rows.items():
        report = json.loads((runs / EXPERIMENT / run_id / "report.json").read_text())
        assert row["status"] == "succeeded"
        assert row["metric"] == report["training"]["final"]["full_valid_loss"]
        assert row["metric"] == states[run_id]["metrics"]["valid_loss"]
        assert row["heldout"] == report["evaluation"]["metrics"]
        assert row["trained_tokens"] == report["job"]["trained_tokens"] > 0
        assert row["cost_usd"] == report["cost"]["trained_usd"] > 0
    metrics = [row["metric"] for row in board["rows"]]
    assert metrics == sorted(metrics), "valid_loss is minimized"
