"""The embedded OpenAI-compatible fine-tuning backend (`ftkit serve`).

create_app(settings) -> FastAPI          the application (files, both fine-tuning dialects,
                                         models, completions, /_ftkit admin)
running_backend(settings)                context manager: serve in a thread, yield base URL
serve(settings)                          serve in the foreground
BackendSettings, FaultPlan, Timing       configuration
"""

from ftkit.backend.app import create_app
from ftkit.backend.server import running_backend, serve
from ftkit.backend.settings import BackendSettings, FaultPlan, Timing

__all__ = ["BackendSettings", "FaultPlan", "Timing", "create_app", "running_backend", "serve"]
