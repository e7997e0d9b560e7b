"""`/v1/embeddings`: vectors for strings or token arrays (see `ftkit.backend.embeddings`)."""

from __future__ import annotations

import base64
from typing import Any, Literal

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.embeddings import MAX_HASH_DIMENSIONS
from ftkit.backend.errors import bad_request, empty_array
from ftkit.backend.serving import model_not_found
from ftkit.data.tokens import get_encoding

router = APIRouter(prefix="/v1", tags=["embeddings"])
MAX_INPUTS = 2048
MAX_TOKENS = 8192
ENCODING = "cl100k_base"  # what OpenAI's embedding models count tokens in


class EmbeddingCreate(BaseModel):
    """`CreateEmbeddingRequest`."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str] | list[int] | list[list[int]]
    model: str
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


@router.post("/embeddings")
def create_embeddings(body: EmbeddingCreate, state: StateDep, org: OrgDep) -> Response:
    """One embedding per input, in order; usage counts the inputs' tokens."""
    embedder = state.embedders.get(body.model)
    if embedder is None:
        raise model_not_found(body.model)
    if body.dimensions is not None:
        if not embedder.resizable:
            raise bad_request(
                "This model does not support specifying dimensions.", "dimensions", None
            )
        if body.dimensions > MAX_HASH_DIMENSIONS:
            raise bad_request(
                f"Invalid 'dimensions': integer above maximum value. Expected a value <= "
                f"{MAX_HASH_DIMENSIONS}, but got {body.dimensions} instead.",
                "dimensions",
                "integer_above_max_value",
            )
    texts, tokens = _texts(body.input)
    vectors = embedder.embed(texts, body.dimensions)
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(row, body.encoding_format)}
        for i, row in enumerate(vectors)
    ]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    payload = {"object": "list", "data": data, "model": embedder.name, "usage": usage}
    return Response(orjson.dumps(payload), media_type="application/json")


def _texts(value: str | list[str] | list[int] | list[list[int]]) -> tuple[list[str], int]:
    """The inputs as texts, and their token count."""
    encoding = get_encoding(ENCODING)
    if value == [] or value == "":
        raise (
            empty_array("input")
            if value == []
            else bad_request(
                "Invalid 'input': string too short. Expected a string with minimum length 1, "
                "but got an empty string instead.",
                "input",
                "empty_string",
            )
        )
    if isinstance(value, str):
        items: list[Any] = [value]
    elif all(isinstance(v, int) for v in value):
        items = [value]
    else:
        items = list(value)
    if len(items) > MAX_INPUTS:
        raise bad_request(
            f"Invalid 'input': array too long. Expected an array with maximum length "
            f"{MAX_INPUTS}, but got an array with length {len(items)} instead.",
            "input",
            "array_above_max_length",
        )
    texts, total = [], 0
    for index, item in enumerate(items):
        if isinstance(item, str):
            count = len(encoding.encode_ordinary(item))
            texts.append(item)
        else:
            bad = next((t for t in item if not 0 <= t < encoding.n_vocab), None)
            if bad is not None or not item:
                raise bad_request(
                    f"Invalid 'input[{index}]': token arrays must be non-empty and hold token "
                    f"ids between 0 and {encoding.n_vocab - 1}.",
                    "input",
                    "invalid_value",
                )
            count = len(item)
            texts.append(encoding.decode(item))
        if count > MAX_TOKENS:
            raise bad_request(
                f"This model's maximum context length is {MAX_TOKENS} tokens, however you "
                f"requested {count} tokens ({count} in your prompt; 0 for the completion). "
                "Please reduce your prompt; or completion length.",
                "input",
                "context_length_exceeded",
            )
        total += count
    return texts, total


def _encode(row: Any, encoding_format: str) -> list[float] | str:
    """Floats, or base64 of little-endian float32 (what the SDK decodes)."""
    if encoding_format == "base64":
        return base64.b64encode(row.astype("<f4").tobytes()).decode()
    return [float(x) for x in row]
