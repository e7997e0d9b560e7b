"""Helpers for evaluation tests against the real embedded backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ftkit.api.async_client import AsyncClient
from ftkit.api.client import Client
from ftkit.api.models import JobSpec
from ftkit.config import ExperimentConfig
from ftkit.data.prepare import prepare_dataset
from ftkit.evaluate import EvaluationResult, evaluate_run


@dataclass
class TrainedRun:
    """A running backend, a model fine-tuned on it, and a run folder with prepared data."""

    backend: Any  # ftkit.backend.testing.BackendHandle
    model: str
    run_dir: Path
    config: ExperimentConfig

    def evaluate(self, **evaluate: Any) -> EvaluationResult:
        """Run evaluate_run on the folder, with evaluate-section overrides."""
        config = self.config.model_copy(
            update={"evaluate": self.config.evaluate.model_copy(update=evaluate)}
        )

        async def run() -> EvaluationResult:
            async with AsyncClient(
                config.provider, base_url=self.backend.url, api_key="test"
            ) as api:
                return await evaluate_run(self.run_dir, api, config, self.model)

        return asyncio.run(run())


@pytest.fixture(scope="session")
def train_run() -> Callable[[Path, ExperimentConfig], AbstractContextManager[TrainedRun]]:
    """`with train_run(tmp, config) as run:` — see `_trained_run`."""
    return _trained_run


@contextmanager
def _trained_run(tmp: Path, config: ExperimentConfig) -> Iterator[TrainedRun]:
    """Prepare config.data into a run folder, fine-tune on a fresh backend (with the validation
    file when there is one), keep the result file, and yield while the backend runs."""
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend

    run_dir = tmp / "runs" / config.name / "run1"
    prepared = prepare_dataset(config.data, config.job.model, run_dir / "prepared")
    with started_backend(BackendSettings(data_dir=tmp / "backend")) as backend:
        with Client(config.provider, base_url=backend.url, api_key="test") as client:
            ids = []
            for split, name in (("train", "train"), ("validation", "valid")):
                if split in prepared.splits:
                    file = client.files.upload(run_dir / "prepared" / f"{name}.jsonl")
                    client.files.wait_processed(file.id)
                    ids.append(file.id)
            spec = JobSpec.from_config(config.job, ids[0], ids[1] if len(ids) > 1 else None)
            job = client.jobs.create(spec, "run1")
            job = client.jobs.wait(job.id, poll_interval_s=0.05, max_poll_interval_s=0.2)
            assert job.fine_tuned_model, job.error
            results = run_dir / "results" / f"{job.result_files[0]}.csv"
            results.parent.mkdir()
            results.write_bytes(client.files.content(job.result_files[0]))
        yield TrainedRun(backend, job.fine_tuned_model, run_dir, config)
