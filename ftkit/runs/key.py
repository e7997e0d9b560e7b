"""The run key: which remote job a config and a dataset ask for.

Two runs with the same key want the same job, so they share one run folder and one remote job
(the key travels with the job as metadata). The key covers what defines the job: the provider's
kind, base URL and dialect, the data section (minus file paths and prices), the job section
(minus how it is followed) and the content of the data files. Evaluation settings are not in it:
changing them re-evaluates the same fine-tuned model instead of training a new one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ftkit.config import ExperimentConfig
from ftkit.runs.atomic import canonical_json

_CHUNK = 1 << 20
_DATA_NOT_IN_KEY = {"source", "validation_source", "prices_per_1k_tokens"}
_CHECKS_NOT_IN_KEY = {"max_listed_lines", "count_tokens"}
_JOB_NOT_IN_KEY = {"poll_interval_s", "max_poll_interval_s", "timeout_s"}


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dataset_hash(config: ExperimentConfig) -> str:
    """The sha256 over the content of the data source (and validation source, if any).

    A missing file is left for data preparation to report with its own message.
    """
    digest = hashlib.sha256()
    for path in (config.data.source, config.data.validation_source):
        if path is not None:
            digest.update(file_sha256(path).encode() if path.is_file() else b"missing")
        digest.update(b"\0")
    return digest.hexdigest()


def key_parts(config: ExperimentConfig) -> dict[str, Any]:
    """The resolved config parts that define the remote job, as plain JSON values."""
    dumped = config.model_dump(mode="json")
    data = {k: v for k, v in dumped["data"].items() if k not in _DATA_NOT_IN_KEY}
    data["checks"] = {k: v for k, v in data["checks"].items() if k not in _CHECKS_NOT_IN_KEY}
    provider = config.provider
    return {
        "provider": {
            "kind": provider.kind,
            "base_url": provider.base_url,
            "dialect": provider.dialect,
        },
        "data": data,
        "job": {k: v for k, v in dumped["job"].items() if k not in _JOB_NOT_IN_KEY},
    }


def run_key(config: ExperimentConfig, data_sha256: str | None = None) -> str:
    """The sha256 (hex) of the job-defining config parts and the dataset content."""
    parts = {"config": key_parts(config), "data_sha256": data_sha256 or dataset_hash(config)}
    return hashlib.sha256(canonical_json(parts)).hexdigest()


def run_id(key: str) -> str:
    """The short, stable folder name of a run key."""
    return key[:12]


def config_hash(config: ExperimentConfig) -> str:
    """A short hash of the whole resolved config (evaluation and schedule included)."""
    return hashlib.sha256(canonical_json(config.model_dump(mode="json"))).hexdigest()[:16]
