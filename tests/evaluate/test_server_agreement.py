"""Client-side metrics agree with the server's classification/* columns on the same examples."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from ftkit.api.async_client import AsyncClient
from ftkit.api.client import Client
from ftkit.api.models import JobSpec
from ftkit.config import ExperimentConfig
from ftkit.data.prepare import prepare_dataset
from ftkit.evaluate import evaluate_run
from ftkit.report import build_report


def test_server_and_client_metrics_match_on_the_validation_split(tmp_path: Path) -> None:
    """A legacy job with classification metrics: evaluating the validation split reproduces them."""
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend

    rng = random.Random(3)
    words = {" positive": ["great", "love", "superb"], " negative": ["awful", "hate", "broken"]}
    with (tmp_path / "reviews.jsonl").open("w") as out:
        for i in range(300):
            label = list(words)[i % 2]
            shown = label if rng.random() > 0.2 else list(words)[1 - i % 2]  # 20% label noise
            prompt = f"{rng.choice(words[shown])} {rng.choice(['fine', 'ok', 'so'])} {i}\n\n###\n\n"
            out.write(json.dumps({"prompt": prompt, "completion": label + "\n"}) + "\n")
    config = ExperimentConfig.model_validate(
        {
            "name": "agree",
            "provider": {"dialect": "legacy"},
            "data": {"source": str(tmp_path / "reviews.jsonl")},
            "job": {
                "model": "babbage-002",
                "seed": 3,
                "hyperparameters": {"n_epochs": 2},
                "classification": {
                    "compute_metrics": True,
                    "n_classes": 2,
                    "positive_class": " positive\n",
                    "betas": [0.5, 2],
                },
            },
            "evaluate": {"split": "validation", "baseline": None},
        }
    )
    run_dir = tmp_path / "run"
    prepare_dataset(config.data, "babbage-002", run_dir / "prepared")
    with started_backend(BackendSettings(data_dir=tmp_path / "backend")) as backend:
        with Client(config.provider, base_url=backend.url, api_key="test") as client:
            ids = []
            for name in ("train", "valid"):
                file = client.files.upload(run_dir / "prepared" / f"{name}.jsonl")
                client.files.wait_processed(file.id)
                ids.append(file.id)
            job = client.jobs.create(JobSpec.from_config(config.job, *ids), "agree")
            job = client.jobs.wait(job.id, poll_interval_s=0.05, max_poll_interval_s=0.2)
            (run_dir / "results").mkdir()
            content = client.files.content(job.result_files[0])
            (run_dir / "results" / f"{job.result_files[0]}.csv").write_bytes(content)

        async def run() -> None:
            async with AsyncClient(config.provider, base_url=backend.url, api_key="test") as api:
                await evaluate_run(run_dir, api, config, job.fine_tuned_model or "")

        asyncio.run(run())
    report = build_report(run_dir, config)
    compared = {row.column: row for row in report.server_comparison}
    assert set(compared) >= {
        "classification/accuracy",
        "classification/precision",
        "classification/recall",
        "classification/auroc",
        "classification/auprc",
        "classification/f1.0",
        "classification/f0.5",
        "classification/f2.0",
    }
    assert 0.5 < compared["classification/accuracy"].server < 1.0  # a non-trivial case
    for row in compared.values():
        assert row.client == pytest.approx(row.server, abs=1e-9), row.column
