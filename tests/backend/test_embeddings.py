"""/v1/embeddings with the always-available n-gram hashing model, through the official SDK."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from ftkit.data.tokens import get_encoding

PARAPHRASES = [
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("How do I reset my password?", "How can I reset the password of my account?"),
    ("The train to London leaves at noon.", "At noon the London train leaves."),
]
UNRELATED = [
    "Stock markets fell sharply on Monday.",
    "Photosynthesis converts light into chemical energy.",
    "Please bring two pencils to the exam.",
]


@pytest.fixture(scope="module")
def sdk(shared_backend: Any) -> Iterator[openai.OpenAI]:
    """The official client (it asks for base64 and decodes it)."""
    with openai.OpenAI(base_url=shared_backend.url, api_key="sk-test", max_retries=0) as client:
        yield client


def embed(sdk: openai.OpenAI, texts: list[str], **options: Any) -> np.ndarray:
    """Embeddings as rows."""
    response = sdk.embeddings.create(model="ftkit-ngram-hash", input=texts, **options)
    return np.array([d.embedding for d in sorted(response.data, key=lambda d: d.index)])


def test_paraphrases_are_closer_than_unrelated_sentences(sdk: openai.OpenAI) -> None:
    """Each paraphrase pair's cosine beats every pairing with an unrelated sentence."""
    for first, second in PARAPHRASES:
        vectors = embed(sdk, [first, second, *UNRELATED])
        similarity = vectors @ vectors.T
        assert similarity[0, 1] > similarity[0, 2:].max() + 0.2, (first, similarity[0])


def test_vectors_are_unit_length_and_dimensions_resize_them(sdk: openai.OpenAI) -> None:
    """512 by default, any requested size; always normalised."""
    assert embed(sdk, ["hello"]).shape == (1, 512)
    resized = embed(sdk, ["hello world", "goodbye"], dimensions=64)
    assert resized.shape == (2, 64)
    assert np.allclose(np.linalg.norm(resized, axis=1), 1.0, atol=1e-5)


def test_float_and_base64_carry_the_same_vector(shared_api: httpx.Client) -> None:
    """base64 is little-endian float32 of the same numbers."""
    body = {"model": "ftkit-ngram-hash", "input": "same text"}
    floats = shared_api.post("/embeddings", json=body).json()["data"][0]["embedding"]
    encoded = shared_api.post("/embeddings", json={**body, "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, floats)


def test_token_arrays_embed_like_their_text_and_count_as_usage(shared_api: httpx.Client) -> None:
    """A token array is the text it decodes to; usage is the tokens given."""
    text = "Tokens and text agree."
    ids = get_encoding("cl100k_base").encode_ordinary(text)
    as_text = shared_api.post("/embeddings", json={"model": "ftkit-ngram-hash", "input": text})
    as_ids = shared_api.post("/embeddings", json={"model": "ftkit-ngram-hash", "input": [ids, ids]})
    assert as_ids.status_code == 200, as_ids.text
    body = as_ids.json()
    assert body["data"][1]["embedding"] == as_text.json()["data"][0]["embedding"]
    assert body["usage"] == {"prompt_tokens": 2 * len(ids), "total_tokens": 2 * len(ids)}
    assert body["model"] == "ftkit-ngram-hash" and body["data"][0]["object"] == "embedding"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "ftkit-ngram-hash", "input": []}, "input", "empty_array"),
        ({"model": "ftkit-ngram-hash", "input": ""}, "input", "empty_string"),
        ({"model": "ftkit-ngram-hash", "input": "x", "dimensions": 0}, "dimensions",
         "integer_below_min_value"),
        ({"model": "nope", "input": "x"}, "model", "model_not_found"),
        ({"model": "ftkit-ngram-hash", "input": "x", "encoding_format": "hex"},
         "encoding_format", "invalid_value"),
    ],
)  # fmt: skip
def test_bad_embedding_requests(
    shared_api: httpx.Client, body: dict[str, Any], param: str, code: str
) -> None:
    """OpenAI's error shape, naming the parameter."""
    response = shared_api.post("/embeddings", json=body)
    assert response.status_code in (400, 404), response.text
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)
