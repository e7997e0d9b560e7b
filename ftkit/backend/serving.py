"""Models for completions: loaded once per server process and kept in memory.

Which model answers for which name: the fast base models (`babbage-002`, `gpt-4o-mini`, ...)
are the embedded test doubles (see `training.model`); `smollm2-135m-instruct` (with the `lm`
extra) is SmolLM2-135M-Instruct itself; a fine-tuned name is the model its job trained
(an LM fine-tune: a LoRA adapter on the shared base weights, or fully fine-tuned weights).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ftkit.backend import training
from ftkit.backend.auth import Org
from ftkit.backend.errors import not_found
from ftkit.backend.naming import resolve_base
from ftkit.backend.store import Store
from ftkit.backend.training.transformer import is_lm_model

CACHED_MODELS = 32


def _lm_registry() -> Any:
    """The language models of this process (imports torch: only when an LM is asked for)."""
    from ftkit.backend.training.transformer.serving import registry

    return registry()


def model_not_found(name: str) -> Exception:
    """404 for a model the caller cannot use."""
    return not_found(
        f"The model `{name}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


class ModelCache:
    """Resolves a model name for an organization to a loaded `CompletionModel` (LRU)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._models: OrderedDict[str, Any] = OrderedDict()

    def get(self, name: str, org: Org) -> tuple[Any, str]:
        """(model, base model name) for `name`; 404 when it does not exist for this org."""
        base = resolve_base(name)
        if base is not None and is_lm_model(base):
            return self._cached(f"base:{base}", lambda: _lm_registry().base()), base
        if base is not None:
            return self._cached(f"base:{base}", lambda: training.base_model(base)), base
        record = self.store.get_model(name, org.id)
        if record is not None:
            path, base = record.path, record.base_model
        else:
            checkpoint = self.store.checkpoint_by_model(name, org.id)
            job = self.store.get_job(checkpoint.job_id) if checkpoint else None
            if checkpoint is None or job is None:
                raise model_not_found(name)
            path, base = checkpoint.path, job.base_model
        if is_lm_model(base):
            load = lambda: _lm_registry().checkpoint(Path(path))  # noqa: E731
        else:
            load = lambda: training.load_model(Path(path))  # noqa: E731
        return self._cached(f"path:{path}", load), base

    def evict(self, path: str) -> None:
        """Forget a deleted model."""
        with self._lock:
            self._models.pop(f"path:{path}", None)

    def _cached(self, key: str, load: Any) -> Any:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = load()
        with self._lock:
            self._models[key] = model
            while len(self._models) > CACHED_MODELS:
                self._models.popitem(last=False)
        return model
