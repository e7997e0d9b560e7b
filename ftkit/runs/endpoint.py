"""Where a run's API is: the provider's URL, or the embedded backend started in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ftkit.config import ExperimentConfig

BACKEND_DIR = Path(".ftkit") / "backend"
"""The embedded backend's data dir, under the working directory: jobs survive restarts there."""

STEP_SECONDS_ENV = "FTKIT_BACKEND_STEP_SECONDS"
"""Slows each training step of the embedded backend (for demos and resume tests)."""


@contextmanager
def api_base_url(config: ExperimentConfig, given: str | None = None) -> Iterator[str | None]:
    """Yield the base URL to use: `given`, else None (the provider's own) unless the embedded
    backend runs.

    For `provider.kind: local` without a `base_url`, the backend is started on a free loopback
    port with its data in `.ftkit/backend` and stopped on exit; jobs left running resume the
    next time it starts from the same folder.
    """
    if given or config.provider.kind != "local" or config.provider.base_url:
        yield given
        return
    from ftkit.backend import BackendSettings, running_backend

    settings = BackendSettings(
        data_dir=BACKEND_DIR.resolve(),
        step_seconds=float(os.environ.get(STEP_SECONDS_ENV, "0")),
    )
    with running_backend(settings) as base_url:
        yield base_url
