"""Where a run's API is: the provider's URL, or the embedded backend started in-process.

The embedded backend keeps its files, jobs and models in ONE folder per user, whatever the
current directory: `FTKIT_BACKEND_DIR` if set, else `$XDG_DATA_HOME/ftkit/backend` (by default
`~/.local/share/ftkit/backend`). `ftkit run`, `ftkit follow`, `ftkit jobs`, `ftkit files` and
`ftkit serve` all use it by default, so a command run from another directory sees the same jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from ftkit.config import ExperimentConfig, ProviderConfig
from ftkit.runs.locate import user_data_dir

BACKEND_DIR_ENV = "FTKIT_BACKEND_DIR"
"""Overrides where the embedded backend keeps its state."""

STEP_SECONDS_ENV = "FTKIT_BACKEND_STEP_SECONDS"
"""Slows each training step of the embedded backend (for demos and resume tests)."""


def default_backend_dir() -> Path:
    """The embedded backend's state folder every command finds by default."""
    given = os.environ.get(BACKEND_DIR_ENV)
    return Path(given).expanduser().resolve() if given else user_data_dir() / "backend"


def uses_embedded_backend(provider: ProviderConfig) -> bool:
    """Whether runs of this provider start the embedded backend (kind `local`, no base_url)."""
    return provider.kind == "local" and not provider.base_url


def start_embedded_backend_workers(provider: ProviderConfig) -> None:
    """For a provider served by the embedded backend, start its training workers' forkserver
    now (see `ftkit.backend.forkserver`): its ~2 s of imports then overlap the caller's."""
    if uses_embedded_backend(provider):
        from ftkit.backend.forkserver import start_forkserver

        start_forkserver()


def api_base_url(
    config: ExperimentConfig, given: str | None = None
) -> AbstractContextManager[str | None]:
    """`provider_base_url` for an experiment config's provider (a context manager)."""
    return provider_base_url(config.provider, given)


@contextmanager
def provider_base_url(provider: ProviderConfig, given: str | None = None) -> Iterator[str | None]:
    """Yield the base URL to use: `given`, else None (the provider's own) unless the embedded
    backend runs.

    For `provider.kind: local` without a `base_url`, the backend is started on a free loopback
    port with its state in `default_backend_dir()` and stopped on exit; jobs left running
    resume the next time a backend starts on that folder.
    """
    if given or not uses_embedded_backend(provider):
        yield given
        return
    from ftkit.backend import BackendSettings, running_backend

    settings = BackendSettings(
        data_dir=default_backend_dir(),
        step_seconds=float(os.environ.get(STEP_SECONDS_ENV, "0")),
    )
    with running_backend(settings) as base_url:
        yield base_url
