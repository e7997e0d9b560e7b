"""Flow runs read in the Prefect UI's runs list: named `<experiment>/<run-id>`, tagged to filter."""

from __future__ import annotations

from pathlib import Path

from flows.labels import run_tags
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
