"""A sweep spread over a work pool: a PostgreSQL-backed Prefect server, two real `prefect worker`
processes, and `ftkit run configs/sweep.yaml sweep.pool=POOL` against one embedded backend.

The first sweep command is killed while a trial trains; the same command again resumes the
sweep. Every trial runs as a flow run of the pipeline's deployment, a child of the sweep's parent
flow run; both workers take trials; each trial makes exactly one remote job (the runs the killed
command launched go on on the workers, the resumed sweep's trials wait for them and reuse them);
the provider's job-slot limit holds across the workers; the leaderboard ranks every trial with its
own report's numbers; running the sweep a third time reuses every finished trial.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flows.concurrency import limit_name
from ftkit.api import Client, Job
from ftkit.config import load_config
from ftkit.runs import RunFolder
from tests.system.conftest import (
    BIN,
    ROOT,
    executed_by,
    kill_tree,
    postgres,
    prefect_server,
    started,
    training_started,
    wait_until,
)

SWEEP = ROOT / "configs" / "sweep.yaml"
EXPERIMENT = "support-tickets-sweep"
MAX_JOBS = 2


def most_jobs_at_once(jobs: list[Job]) -> int:
    """The most jobs that were training at the same moment (from their created/finished times)."""
    spans = [(job.created_at or 0, job.finished_at or math.inf) for job in jobs]
    return max(sum(1 for begin, end in spans if begin <= start < end) for start, _ in spans)


async def sweep_runs(client: Any, name: str) -> tuple[list[Any], dict[Any, list[Any]], Any]:
    """The sweep's parent flow runs, oldest first; each one's children; the trials' deployment."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterParentFlowRunId,
    )

    parents = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
    )
    children = {
        parent.id: await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
        for parent in parents
    }
    deployment = await client.read_deployment_by_name(f"fine-tune-pipeline/{EXPERIMENT}-trials")
    return sorted(parents, key=lambda parent: parent.created), children, deployment


def a_trial_trains(runs: Path) -> bool:
    folders = (runs / EXPERIMENT).glob("*/run.json")
    return any(training_started(RunFolder(path.parent)) for path in folders)


@pytest.mark.slow
def test_a_sweep_on_a_pool_runs_each_trial_once_on_either_worker_as_a_child_of_the_sweep(
    tmp_path: Path, backend: Any
) -> None:
    backend.set_timing(step_seconds=0.05)  # slow until the first sweep command is killed
    tickets = tmp_path / "tickets.jsonl"
    lines = (ROOT / "datasets" / "support_tickets.jsonl").read_text().splitlines()[:100]
    tickets.write_text("\n".join(lines) + "\n")
    runs = tmp_path / "runs"
    args = [
        str(SWEEP), f"runs_dir={runs}", f"provider.base_url={backend.url}",
        f"data.source={tickets}", "sweep.pool=sweeps", "sweep.max_parallel=4",
        f"provider.max_concurrent_jobs={MAX_JOBS}",
    ]  # fmt: skip
    command = [str(BIN / "ftkit"), "run", *args, "--format", "json"]
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}
    with (
        postgres() as database_url,
        prefect_server(tmp_path / "prefect", database_url) as server,
        server.worker("sweeps", "w1", tmp_path, limit=2),
        server.worker("sweeps", "w2", tmp_path, limit=2),
    ):
        with started(command, server.env, tmp_path / "killed.log", tmp_path) as killed:
            wait_until(lambda: a_trial_trains(runs), 240, "a trial to train on a worker")
            kill_tree(killed.pid)  # the sweep's process dies; its trials go on on the workers
            killed.wait()
        backend.set_timing(step_seconds=0.01)  # jobs still train long enough to overlap
        done = subprocess.run(
            command, env=server.env, cwd=tmp_path, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, done.stderr[-5000:]
        again = subprocess.run(
            command, env=server.env, cwd=tmp_path, capture_output=True, text=True, timeout=400
        )
        board = json.loads(done.stdout)["leaderboard"]
        name = f"{EXPERIMENT}/sweep-{board['sweep_id']}"
        (crashed, parent, last), children_of, deployment = server.run(sweep_runs, name)
        children = children_of[parent.id]
        limit = server.run(
            lambda client: client.read_global_concurrency_limit_by_name(
                limit_name(load_config(args[0], args[1:]).provider)
            )
        )

    assert crashed.state.is_crashed() and last.state.is_completed()
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
