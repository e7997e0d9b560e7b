"""The embedded OpenAI-compatible fine-tuning backend (`ftkit serve`).

create_app(settings) -> FastAPI          the application (files, both fine-tuning dialects,
                                         models, completions, /_ftkit admin)
running_backend(settings)                context manager: serve in a thread, yield base URL
serve(settings)                          serve in the foreground
BackendSettings, FaultPlan, Timing       configuration

The names are imported on first use: a training worker imports `ftkit.backend.training`
without loading the web application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftkit.lazy import lazy_attributes

if TYPE_CHECKING:
    from ftkit.backend.app import create_app
    from ftkit.backend.server import running_backend, serve
    from ftkit.backend.settings import BackendSettings, FaultPlan, Timing

__all__ = ["BackendSettings", "FaultPlan", "Timing", "create_app", "running_backend", "serve"]

_HOMES = {
    "create_app": "ftkit.backend.app",
    "running_backend": "ftkit.backend.server",
    "serve": "ftkit.backend.server",
    "BackendSettings": "ftkit.backend.settings",
    "FaultPlan": "ftkit.backend.settings",
    "Timing": "ftkit.backend.settings",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
