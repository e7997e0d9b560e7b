"""How a run reads in the Prefect UI's runs list: its name and its tags.

Every flow run of the pipeline (from `ftkit run`, a deployment, a sweep trial) is named
`<experiment>/<run-id>` and tagged with what a fine-tuner filters on:

    ftkit  experiment:support-tickets  provider:local  model:babbage-002  n_epochs=3  seed=7

Hyperparameters left to the provider (`auto`) get no tag. Keys a sweep varied are tagged with
their dotted path, short for the job's own (`job.hyperparameters.n_epochs` → `n_epochs=3`,
`data.split.seed` → `data.split.seed=5`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

from ftkit.config import ExperimentConfig


def run_name(experiment: str, run_id: str) -> str:
    """The flow run name of one run: `<experiment>/<run-id>`."""
    return f"{experiment}/{run_id}"


def run_tags(config: ExperimentConfig, swept: Mapping[str, Any] | None = None) -> list[str]:
    """The tags of a run of this config: experiment, provider, base model, hyperparameters.

    `swept` holds the dotted keys a sweep varied and their values for this trial.
    """
    settings: dict[str, Any] = {
        **config.job.hyperparameters.model_dump(exclude_none=True),
        "seed": config.job.seed,
    }
    settings.update({short_key(key): value for key, value in (swept or {}).items()})
    return [
        "ftkit",
        f"experiment:{config.name}",
        f"provider:{config.provider.kind}",
        f"model:{config.job.model}",
        *(f"{key}={value}" for key, value in settings.items() if value is not None),
    ]


def short_key(dotted: str) -> str:
    """A config key as tagged: the job's settings without their `job.…` prefix."""
    return dotted.removeprefix("job.hyperparameters.").removeprefix("job.")


async def label_run(
    config: ExperimentConfig, run_id: str, swept: Mapping[str, Any] | None = None
) -> None:
    """Name the current flow run after the run and add the run's tags (no-op outside a flow)."""
    await label_flow_run(run_name(config.name, run_id), run_tags(config, swept))


async def label_flow_run(name: str, tags: Iterable[str]) -> None:
    """Rename the current flow run and add tags to the ones it has (no-op outside a flow run)."""
    if flow_run.id is None:
        return
    merged = list(dict.fromkeys([*flow_run.tags, *tags]))
    async with get_client() as client:
        await client.update_flow_run(flow_run.id, name=name, tags=merged)
