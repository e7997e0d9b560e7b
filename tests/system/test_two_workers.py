"""At scale on a real database: a PostgreSQL-backed Prefect server, two process workers on one
pool, four pipeline runs against one embedded backend; one worker killed mid-run and started
again. One run key, one job: the backend ends with exactly one job per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ftkit.api import Client, JobStatus
from tests.system.conftest import (
    QUICKSTART,
    PrefectServer,
    executed_by,
    kill_tree,
    postgres,
    prefect_server,
    run_folder,
    training_started,
    wait_until,
)

SEEDS = (1, 2, 3, 4)


def completed(server: PrefectServer, flow_run_ids: list[Any]) -> bool:
    states = [server.flow_run(flow_run_id).state for flow_run_id in flow_run_ids]
    broken = [state for state in states if state.type.value in {"FAILED", "CRASHED"}]
    assert not broken, broken
    return all(state.is_completed() for state in states)


@pytest.mark.slow
def test_two_workers_on_postgres_run_four_runs_with_one_job_each_even_after_a_kill(
    tmp_path: Path, backend: Any
) -> None:
    backend.set_timing(step_seconds=0.02)  # long enough to kill a worker while a job trains
    base = [
        "name=fleet",
        f"runs_dir={tmp_path / 'runs'}",
        f"provider.base_url={backend.url}",
        "job.hyperparameters.n_epochs=1",
        "evaluate.baseline=null",
    ]
    overrides = {seed: [*base, f"job.seed={seed}"] for seed in SEEDS}
    folders = {seed: run_folder(overrides[seed]) for seed in SEEDS}
    with (
        postgres() as database_url,
        prefect_server(tmp_path / "prefect", database_url) as server,
    ):
        server.ftkit("deploy", str(QUICKSTART), *base, "--pool", "fleet", cwd=tmp_path)
        deployment = server.deployment("fine-tune-pipeline/fleet")
        logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}
        with (
            server.worker("fleet", "w1", tmp_path, limit=2),
            server.worker("fleet", "w2", tmp_path, limit=2) as w2,
        ):
            runs = {
                seed: server.run(
                    lambda client, s=seed: client.create_flow_run_from_deployment(
                        deployment.id, parameters={"overrides": overrides[s]}
                    )
                ).id
                for seed in SEEDS
            }
            wait_until(
                lambda: any(
                    executed_by(logs["w2"], runs[seed]) and training_started(folders[seed])
                    for seed in SEEDS
                ),
                240,
                "worker w2 to train a job",
            )
            kill_tree(w2.pid)  # the worker and its flow runs die mid-run
            w2.wait()
            killed = [seed for seed in SEEDS if executed_by(logs["w2"], runs[seed])]
            with server.worker("fleet", "w2", tmp_path, limit=2):
                reruns = [
                    server.run(
                        lambda client, s=seed: client.create_flow_run_from_deployment(
                            deployment.id, parameters={"overrides": overrides[s]}
                        )
                    ).id
                    for seed in killed
                ]
                survivors = [runs[seed] for seed in SEEDS if seed not in killed]
                wait_until(lambda: completed(server, [*survivors, *reruns]), 300, "all runs")

    assert all(folders[seed].load_state().status == "succeeded" for seed in SEEDS)
    by_worker = {
        name: {s for s in SEEDS if executed_by(log, runs[s])} for name, log in logs.items()
    }
    assert by_worker["w1"] and by_worker["w2"], by_worker
    with Client(base_url=backend.url) as client:
        jobs = client.jobs.list()
    print(f"remote jobs after 4 runs, a killed worker and a re-run: {len(jobs)}")
    assert len(jobs) == len(SEEDS)
    assert {job.status for job in jobs} == {JobStatus.succeeded}
    assert {job.id for job in jobs} == {folders[seed].load_state().job_id for seed in SEEDS}
