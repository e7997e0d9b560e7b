"""Language models as one server process serves them: the base weights are loaded once, and
every LoRA fine-tune of them is an adapter on those same weights, loaded on first use and
switched per forward pass (under one lock). A fully fine-tuned checkpoint is its own model.

Served weights are bf16 where the hardware computes in bf16 (see `serving_dtype`): under
autocast, fp32 weights would be cast again at every forward pass, which made a short completion
~1.7x slower on a 2-core CPU with AVX512-BF16.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peft import PeftModel

from ftkit.backend.training.transformer import weights
from ftkit.backend.training.transformer.generation import HFTokenizer, LMGenerator
from ftkit.backend.training.transformer.learner import (
    device,
    quiet_peft_wrapping,
    read_meta,
    serving_dtype,
)


class LMRegistry:
    """The base model, its adapters and any fully fine-tuned models of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._loading = threading.Lock()
        self.tokenizer = HFTokenizer(weights.load_tokenizer())
        self.model: Any = weights.load_base(serving_dtype()).to(device())
        self.adapters: dict[str, str] = {}

    def base(self) -> LMGenerator:
        """The base model (adapters switched off while it runs)."""
        return LMGenerator(self.tokenizer, self.lock, self._runner(None))

    def checkpoint(self, path: Path) -> LMGenerator:
        """A fine-tuned checkpoint folder: an adapter on the shared base, or a full model."""
        if read_meta(path)["method"] == "full":
            model = weights.load_full(path, serving_dtype()).to(device())
            return LMGenerator(self.tokenizer, threading.Lock(), lambda: model)
        key = str(path.resolve())
        with self._loading, self.lock:
            if key not in self.adapters:
                name = f"ft{len(self.adapters)}"
                if isinstance(self.model, PeftModel):
                    self.model.load_adapter(path, adapter_name=name)
                else:
                    with quiet_peft_wrapping():
                        self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
                self.model.eval()
                self.adapters[key] = name
        return LMGenerator(self.tokenizer, self.lock, self._runner(self.adapters[key]))

    def _runner(self, adapter: str | None) -> Callable[[], Any]:
        """What a forward pass calls (holding the lock) to get the model set up for `adapter`."""

        def prepare() -> Any:
            if not isinstance(self.model, PeftModel):
                return self.model
            lora: Any = self.model.base_model
            if adapter is None:
                lora.disable_adapter_layers()
            else:
                lora.enable_adapter_layers()
                self.model.set_adapter(adapter)
            return self.model

        return prepare


_registry: LMRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> LMRegistry:
    """This process's registry (the base weights load on first use)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = LMRegistry()
        return _registry
