"""`/v1/completions` and `/v1/chat/completions`, answered by models cached in the server.

Every parameter goes to `ftkit.backend.sampling` (see there for what each does) or is refused
by `completion_requests` as OpenAI refuses it. `stream: true` answers with server-sent events:
one `data:` chunk per token (a completion chunk, or a chat delta), the finish reason on each
choice's last chunk, with `stream_options.include_usage` a last chunk holding only the usage,
then `data: [DONE]`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response, StreamingResponse

from ftkit.backend.completion_requests import (
    ChatCreate,
    CompletionCreate,
    Request,
    chat_request,
    completion_request,
)
from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import not_found
from ftkit.backend.ids import new_id
from ftkit.backend.naming import is_chat_model, serves_chat
from ftkit.backend.sampling import Choice, GenerativeModel, TokenChunk, generate, stream

router = APIRouter(prefix="/v1", tags=["completions"])


@router.post("/completions")
async def create_completion(body: CompletionCreate, state: StateDep, org: OrgDep) -> Response:
    """Completions for one prompt or an array; `choices[i * n + j]` is prompt i's j-th."""
    model, base = state.models.get(body.model, org)
    if is_chat_model(base):
        raise not_found(
            "This is a chat model and not supported in the v1/completions endpoint. Did you mean "
            "to use v1/chat/completions?",
            param="model",
        )
    request = completion_request(body, model)
    head = {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.model,
    }
    if body.stream:
        return _sse(_completion_chunks(model, request, head))
    choices: list[dict[str, Any]] = []
    completion_tokens = 0
    for i, (prompt, per_prompt) in enumerate(
        zip(request.prompts, generate(model, request.prompts, request.params), strict=True)
    ):
        for j, choice in enumerate(per_prompt):
            completion_tokens += _generated(choice, prompt, request)
            choices.append(
                {
                    "text": choice.text,
                    "index": i * body.n + j,
                    "logprobs": _completion_logprobs(choice) if body.logprobs is not None else None,
                    "finish_reason": choice.finish_reason,
                }
            )
    usage = _usage(sum(map(len, request.prompts)), completion_tokens)
    return _json({**head, "choices": choices, "usage": usage})


@router.post("/chat/completions")
async def create_chat_completion(body: ChatCreate, state: StateDep, org: OrgDep) -> Response:
    """Chat completions from a chat-format model."""
    model, base = state.models.get(body.model, org)
    if not serves_chat(base):
        raise not_found(
            "This is not a chat model and thus not supported in the v1/chat/completions "
            "endpoint. Did you mean to use v1/completions?",
            param="model",
        )
    request = chat_request(body, model)
    head = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": None,
    }
    if body.stream:
        return _sse(_chat_chunks(model, request, {**head, "object": "chat.completion.chunk"}))
    [per_conversation] = generate(model, request.prompts, request.params)
    choices = [
        {
            "index": j,
            "message": {"role": "assistant", "content": choice.text, "refusal": None},
            "logprobs": _chat_logprobs(
                request.params.logprobs or 0,
                choice.tokens,
                choice.token_logprobs,
                choice.top_logprobs,
            )
            if body.logprobs
            else None,
            "finish_reason": choice.finish_reason,
        }
        for j, choice in enumerate(per_conversation)
    ]
    completion_tokens = sum(len(choice.tokens) for choice in per_conversation)
    usage = _usage(len(request.prompts[0]), completion_tokens)
    return _json({**head, "choices": choices, "usage": usage})


def _completion_chunks(
    model: GenerativeModel, request: Request, head: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """`text_completion` chunks, one per token."""
    logprobs = request.params.logprobs is not None
    tail = {"usage": None} if request.include_usage else {}
    completion_tokens = 0
    for index, chunk in stream(model, request.prompts, request.params):
        completion_tokens += bool(chunk.token)
        choice = {
            "text": chunk.text,
            "index": index,
            "logprobs": _chunk_logprobs(chunk) if logprobs else None,
            "finish_reason": chunk.finish_reason,
        }
        yield {**head, "choices": [choice], **tail}
    if request.include_usage:
        prompt_tokens = sum(map(len, request.prompts))
        if request.params.echo:
            completion_tokens -= prompt_tokens * request.params.n
        yield {**head, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)}


def _chat_chunks(
    model: GenerativeModel, request: Request, head: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """`chat.completion.chunk`s: the role first, then one content delta per token."""
    logprobs = request.params.logprobs is not None
    tail = {"usage": None} if request.include_usage else {}
    completion_tokens, started = 0, set()
    for index, chunk in stream(model, request.prompts, request.params):
        if index not in started:
            started.add(index)
            role = {"role": "assistant", "content": "", "refusal": None}
            first = {"index": index, "delta": role, "logprobs": None, "finish_reason": None}
            yield {**head, "choices": [first], **tail}
        completion_tokens += bool(chunk.token)
        chunk_logprobs = None
        if logprobs and chunk.token:
            chunk_logprobs = _chat_logprobs(
                request.params.logprobs or 0, [chunk.token], [chunk.logprob], [chunk.top_logprobs]
            )
        delta = {"content": chunk.text} if chunk.token or chunk.text else {}
        choice = {
            "index": index,
            "delta": delta,
            "logprobs": chunk_logprobs,
            "finish_reason": chunk.finish_reason,
        }
        yield {**head, "choices": [choice], **tail}
    if request.include_usage:
        usage = _usage(len(request.prompts[0]), completion_tokens)
        yield {**head, "choices": [], "usage": usage}


def _sse(chunks: Iterator[dict[str, Any]]) -> StreamingResponse:
    """Server-sent events: each chunk as `data: {json}`, then `data: [DONE]`."""

    def events() -> Iterator[bytes]:
        for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _generated(choice: Choice, prompt: list[int], request: Request) -> int:
    """Completion tokens of a choice (echoed prompt tokens are not generated)."""
    return len(choice.tokens) - (len(prompt) if request.params.echo else 0)


def _completion_logprobs(choice: Choice) -> dict[str, Any]:
    return {
        "tokens": choice.tokens,
        "token_logprobs": choice.token_logprobs,
        "top_logprobs": choice.top_logprobs,
        "text_offset": choice.text_offset,
    }


def _chunk_logprobs(chunk: TokenChunk) -> dict[str, Any]:
    """A completion chunk's logprobs: its token, or nothing for the tokenless last chunk."""
    if not chunk.token:
        return {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    return {
        "tokens": [chunk.token],
        "token_logprobs": [chunk.logprob],
        "top_logprobs": [chunk.top_logprobs],
        "text_offset": [chunk.text_offset],
    }


def _chat_logprobs(
    top: int,
    tokens: list[str],
    logprobs: list[float | None],
    tops: list[dict[str, float] | None] | None,
) -> dict[str, Any]:
    """`logprobs.content`: per token, its logprob, bytes and the alternatives asked for."""
    content = []
    for position, (token, logprob) in enumerate(zip(tokens, logprobs, strict=True)):
        alternatives = (tops or [None] * len(tokens))[position] or {}
        ranked = sorted(alternatives.items(), key=lambda kv: -kv[1])[:top]
        content.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in ranked
                ],
            }
        )
    return {"content": content, "refusal": None}


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
