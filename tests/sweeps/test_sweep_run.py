"""A 2x2 grid sweep end to end on the embedded backend: one parent flow run with the trials as
named, tagged children; a leaderboard whose numbers are the trials' own reports'; the champion
from the ranking; `ftkit runs list` and `ftkit sweeps show`."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.sorting import ArtifactSort
from typer.testing import CliRunner

from ftkit.api import Client
from ftkit.backend.settings import BackendSettings
from ftkit.backend.testing import started_backend
from ftkit.cli import app

SWEEP = Path(__file__).resolve().parents[2] / "configs" / "sweep.yaml"
EXPERIMENT = "support-tickets-sweep"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def sweep(
    tmp_path_factory: pytest.TempPathFactory, prefect_api: str, tickets: Path
) -> Iterator[SimpleNamespace]:
    """configs/sweep.yaml (2 keys x 2 values) run once through `ftkit run`."""
    tmp = tmp_path_factory.mktemp("sweep")
    runs = tmp / "runs"
    with started_backend(BackendSettings(data_dir=tmp / "backend")) as backend:
        args = [
            str(SWEEP), f"runs_dir={runs}", f"provider.base_url={backend.url}",
            f"data.source={tickets}",
        ]  # fmt: skip
        result = cli("run", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        outcome = json.loads(result.stdout)
        with Client(base_url=backend.url) as client:
            jobs = client.jobs.list()
        yield SimpleNamespace(
            runs=runs, outcome=outcome, board=outcome["leaderboard"], folder=Path(outcome["folder"]),
            jobs=jobs, args=args,
        )  # fmt: skip


def report(runs: Path, run_id: str) -> dict[str, Any]:
    return json.loads((runs / EXPERIMENT / run_id / "report.json").read_text())


def test_every_grid_trial_trains_once_and_is_ranked_on_validation(sweep: SimpleNamespace) -> None:
    board = sweep.board
    assert len(sweep.jobs) == 4
    assert sorted(
        (j.hyperparameters["n_epochs"], j.hyperparameters["learning_rate_multiplier"])
        for j in sweep.jobs
    ) == [(2, 0.05), (2, 0.2), (4, 0.05), (4, 0.2)]
    assert [row["rank"] for row in board["rows"]] == [1, 2, 3, 4]
    metrics = [row["metric"] for row in board["rows"]]
    assert metrics == sorted(metrics), "valid_loss is minimized"
    assert board["metric"] == "valid_loss" and board["goal"] == "minimize"
    assert board["best_run_id"] == board["rows"][0]["run_id"]


def test_leaderboard_numbers_equal_each_trials_own_report(sweep: SimpleNamespace) -> None:
    """Ranking metric, held-out (test) metrics, trained tokens and cost: the report's own."""
    for row in sweep.board["rows"]:
        own = report(sweep.runs, row["run_id"])
        state = json.loads((sweep.runs / EXPERIMENT / row["run_id"] / "run.json").read_text())
        assert (
            row["metric"]
            == own["training"]["final"]["full_valid_loss"]  # the whole validation set's loss
            == state["metrics"]["valid_loss"]
        )
        assert own["split"] == row["heldout_split"] == "test"
        assert row["heldout"] == own["evaluation"]["metrics"]
        assert row["trained_tokens"] == own["job"]["trained_tokens"] > 0
        assert row["cost_usd"] == own["cost"]["trained_usd"] > 0
        values = {
            "job.hyperparameters.n_epochs": own["config"]["job"]["hyperparameters"]["n_epochs"],
            "job.hyperparameters.learning_rate_multiplier": own["config"]["job"]["hyperparameters"][
                "learning_rate_multiplier"
            ],
        }
        assert row["values"] == values
        assert state["swept"] == values and state["sweep_id"] == sweep.board["sweep_id"]
    saved = json.loads((sweep.folder / "leaderboard.json").read_text())
    assert saved["rows"] == sweep.board["rows"]


def test_leaderboard_pages_show_the_table_plots_and_a_working_report_link(
    sweep: SimpleNamespace,
) -> None:
    markdown = (sweep.folder / "leaderboard.md").read_text()
    html = (sweep.folder / "leaderboard.html").read_text()
    best = sweep.board["rows"][0]
    for text in (markdown, html):
        assert best["run_id"] in text and f"{best['metric']:.4g}" in text
        assert f"{best['heldout']['f1_macro']:.4g}" in text
    assert html.count("data:image/png;base64,") == 3, "metric vs each of 2 keys + loss curves"
    assert sorted(p.name for p in (sweep.folder / "plots").iterdir()) == [
        "loss-curves.png", "metric-vs-learning_rate_multiplier.png", "metric-vs-n_epochs.png",
    ]  # fmt: skip
    link = re.search(r"id='best-report' href='([^']+)'", html)
    assert link is not None
    target = (sweep.folder / link[1]).resolve()
    assert target == (sweep.runs / EXPERIMENT / best["run_id"] / "report.html").resolve()
    assert target.is_file()


def test_the_champion_is_the_rank_1_trial_and_the_others_say_why_not(
    sweep: SimpleNamespace,
) -> None:
    champion = json.loads((sweep.runs / EXPERIMENT / "champion.json").read_text())
    best, *others = sweep.board["rows"]
    assert champion["run_id"] == best["run_id"]
    assert report(sweep.runs, best["run_id"])["gate"]["promoted"] is True
    for row in others:
        gate = report(sweep.runs, row["run_id"])["gate"]
        assert gate["passed"] is False and not gate["promoted"]
        assert f"ranked {row['rank']} of 4" in gate["reasons"][0]


def test_one_parent_flow_run_with_the_trials_as_named_tagged_children(
    sweep: SimpleNamespace,
) -> None:
    name = f"{EXPERIMENT}/sweep-{sweep.board['sweep_id']}"
    key = f"{EXPERIMENT}-sweep-{sweep.board['sweep_id']}"

    async def read() -> tuple[Any, list[Any], list[Any]]:
        async with get_client() as client:
            (parent,) = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            children = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
                )
            )
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
                limit=10,
            )
        return parent, children, artifacts

    parent, children, artifacts = asyncio.run(read())
    assert parent.state.is_completed()
    assert f"sweep:{sweep.board['sweep_id']}" in parent.tags
    by_name = {child.name: child for child in children}
    for row in sweep.board["rows"]:
        child = by_name[f"{EXPERIMENT}/{row['run_id']}"]
        assert child.state.is_completed()
        hyper = row["values"]
        assert f"n_epochs={hyper['job.hyperparameters.n_epochs']}" in child.tags
        lr = hyper["job.hyperparameters.learning_rate_multiplier"]
        assert f"learning_rate_multiplier={lr}" in child.tags
    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.flow_run_id == parent.id
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [r["run id"] for r in rows] == [row["run_id"] for row in sweep.board["rows"]]


def test_runs_list_shows_swept_values_and_sweeps_show_prints_the_leaderboard(
    sweep: SimpleNamespace,
) -> None:
    listing = cli("runs", "list", "--runs-dir", str(sweep.runs))
    for row in sweep.board["rows"]:
        line = next(line for line in listing.stdout.splitlines() if line.startswith(row["run_id"]))
        hyper = row["values"]
        assert (
            f"[learning_rate_multiplier={hyper['job.hyperparameters.learning_rate_multiplier']} "
            f"n_epochs={hyper['job.hyperparameters.n_epochs']}]"
        ) in line
    sweep_id = sweep.board["sweep_id"]
    shown = cli("sweeps", "show", sweep_id[:6], "--runs-dir", str(sweep.runs), "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["rows"] == sweep.board["rows"]
    by_config = cli("sweeps", "show", *sweep.args, "--format", "json")
    assert json.loads(by_config.stdout)["rows"] == sweep.board["rows"]
    text = cli("sweeps", "show", f"{EXPERIMENT}/{sweep_id}", "--runs-dir", str(sweep.runs))
    ranked = [line.split()[:2] for line in text.stdout.splitlines()[2:6]]
    assert ranked == [[str(r["rank"]), r["run_id"]] for r in sweep.board["rows"]]
    missing = cli("sweeps", "show", "nope", "--runs-dir", str(sweep.runs))
    assert missing.exit_code == 2 and "no sweep 'nope'" in missing.stderr
