"""Import what the end of a run needs while its job trains.

`ftkit run` mostly waits while the provider trains: the imports evaluation needs (scikit-learn's
metrics, ~1.2 s on 2 cores) and, when the embedded backend serves the fine-tuned model from
this process, its trainer modules, run then in a background thread instead of after the job.
"""

from __future__ import annotations

import importlib
import sys
import threading

from ftkit.gc_pause import imports_without_gc

FOR_EVALUATION = ("sklearn.metrics", "sklearn.calibration", "sklearn.preprocessing")
FOR_EMBEDDED_BACKEND = ("ftkit.backend.training.storage",)


def prefetch_evaluation_imports() -> None:
    """Start importing the evaluation's modules in a daemon thread (once per process)."""
    modules = list(FOR_EVALUATION)
    if "ftkit.backend.app" in sys.modules:  # the embedded backend answers the completions
        modules += FOR_EMBEDDED_BACKEND
    missing = [name for name in modules if name not in sys.modules]
    if missing:
        threading.Thread(
            target=_import, args=(missing,), name="ftkit-prefetch", daemon=True
        ).start()


def _import(modules: list[str]) -> None:
    with imports_without_gc():
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:  # the step that needs it reports it
                return
