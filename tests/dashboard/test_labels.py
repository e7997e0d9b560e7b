"""Flow runs read in the Prefect UI's runs list: named `<experiment>/<run-id>`, tagged to filter."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prefect import get_client
from typer.testing import CliRunner

from flows.labels import run_tags
from ftkit.cli import app
from ftkit.config import load_config

QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"


def test_tags_name_experiment_provider_model_and_the_set_hyperparameters() -> None:
    config = load_config(QUICKSTART, ["job.hyperparameters.learning_rate_multiplier=0.2"])
    assert run_tags(config) == [
        "ftkit",
        "experiment:support-tickets",
        "provider:local",
        "model:babbage-002",
        "n_epochs=3",
        "learning_rate_multiplier=0.2",
        "seed=7",
    ]


def test_swept_keys_are_tagged_short_for_the_job_and_dotted_elsewhere() -> None:
    config = load_config(QUICKSTART, ["data.split.seed=5", "job.hyperparameters.n_epochs=4"])
    tags = run_tags(config, swept={"data.split.seed": 5, "job.hyperparameters.n_epochs": 4})
    assert tags[4:] == ["n_epochs=4", "seed=7", "data.split.seed=5"]


@pytest.mark.slow
def test_a_pipeline_flow_run_is_named_and_tagged_after_its_run(
    prefect_api: str, quickstart_args: list[str]
) -> None:
    result = CliRunner().invoke(app, ["run", *quickstart_args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    state = json.loads(result.stdout)["state"]

    async def read() -> tuple[str, list[str]]:
        async with get_client() as client:
            flow_run = await client.read_flow_run(state["flow_run_id"])
        return flow_run.name, flow_run.tags

    name, tags = asyncio.run(read())
    assert name == f"support-tickets/{state['run_id']}"
    assert Path(json.loads(result.stdout)["path"]).name == state["run_id"]
    assert {
        "experiment:support-tickets",
        "provider:local",
        "model:babbage-002",
        "n_epochs=3",
    } <= set(tags)
