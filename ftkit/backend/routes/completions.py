"""`/v1/completions` and `/v1/chat/completions`, answered by models cached in the server.

Accepted and ignored (the model has no use for them): `presence_penalty`, `frequency_penalty`,
`logit_bias`, `best_of`, `user`, `suffix` (must be null). Streaming is not offered (400).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import bad_request, not_found
from ftkit.backend.ids import new_id
from ftkit.backend.naming import is_chat_model, serves_chat
from ftkit.backend.sampling import SamplingParams, generate
from ftkit.backend.training.model import CHAT_MAX_TOKENS

router = APIRouter(prefix="/v1", tags=["completions"])

Stop = str | Annotated[list[str], Field(max_length=4)] | None


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        """JSON null for an optional parameter means its default (openai<1 sends nulls)."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    model: str
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, ge=0, le=1)
    n: int = Field(1, ge=1, le=128)
    stream: bool = False
    stop: Stop = None
    seed: int | None = None
    user: str | None = None
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None


class CompletionCreate(_Sampling):
    """`CreateCompletionRequest` (openai-api.md §6.1)."""

    prompt: str | list[str] = "<|endoftext|>"
    suffix: None = None
    max_tokens: int | None = Field(16, ge=0)
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False
    best_of: int | None = Field(None, ge=0, le=20)


class ChatMessage(BaseModel):
    """One chat message (extra fields such as `name` or `tool_calls` are kept and ignored)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCreate(_Sampling):
    """`CreateChatCompletionRequest` basics (openai-api.md §6.3)."""

    model_config = ConfigDict(extra="ignore")

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)


def _no_stream(stream: bool) -> None:
    if stream:
        raise bad_request("Streaming is not supported by this server.", param="stream")


@router.post("/completions")
async def create_completion(body: CompletionCreate, state: StateDep, org: OrgDep) -> Response:
    """Completions for one prompt or an array; `choices[i * n + j]` is prompt i's j-th."""
    _no_stream(body.stream)
    model, base = state.models.get(body.model, org)
    if is_chat_model(base):
        raise not_found(
            "This is a chat model and not supported in the v1/completions endpoint. Did you mean "
            "to use v1/chat/completions?",
            param="model",
        )
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    params = SamplingParams(
        max_tokens=16 if body.max_tokens is None else body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        n=body.n,
        stop=_stops(body.stop),
        logprobs=body.logprobs,
        echo=body.echo,
        seed=body.seed,
    )
    results = generate(model, [model.tokenizer.encode_ordinary(p) for p in prompts], params)
    choices: list[dict[str, Any]] = []
    prompt_tokens = completion_tokens = 0
    for i, (prompt, per_prompt) in enumerate(zip(prompts, results, strict=True)):
        n_prompt = len(model.encoding.encode_ordinary(prompt))
        prompt_tokens += n_prompt
        for j, choice in enumerate(per_prompt):
            completion_tokens += len(choice.tokens) - (n_prompt if body.echo else 0)
            logprobs = None
            if body.logprobs is not None:
                logprobs = {
                    "tokens": choice.tokens,
                    "token_logprobs": choice.token_logprobs,
                    "top_logprobs": choice.top_logprobs,
                    "text_offset": choice.text_offset,
                }
            choices.append(
                {
                    "text": choice.text,
                    "index": i * body.n + j,
                    "logprobs": logprobs,
                    "finish_reason": choice.finish_reason,
                }
            )
    return _json(
        {
            "id": new_id("cmpl-"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
        }
    )


@router.post("/chat/completions")
async def create_chat_completion(body: ChatCreate, state: StateDep, org: OrgDep) -> Response:
    """A chat completion from a chat-format model."""
    _no_stream(body.stream)
    model, base = state.models.get(body.model, org)
    if not serves_chat(base):
        raise not_found(
            "This is not a chat model and thus not supported in the v1/chat/completions "
            "endpoint. Did you mean to use v1/completions?",
            param="model",
        )
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    top = body.top_logprobs if body.logprobs else None
    prompt = model.tokenizer.encode_ordinary(model.chat_prompt(messages))
    params = SamplingParams(
        max_tokens=body.max_completion_tokens or body.max_tokens or CHAT_MAX_TOKENS,
        temperature=body.temperature,
        top_p=body.top_p,
        n=body.n,
        stop=_stops(body.stop),
        logprobs=(top or 0) if body.logprobs else None,
        seed=body.seed,
    )
    [per_conversation] = generate(model, [prompt], params)
    choices = []
    completion_tokens = 0
    for j, choice in enumerate(per_conversation):
        completion_tokens += len(choice.tokens)
        choices.append(
            {
                "index": j,
                "message": {"role": "assistant", "content": choice.text, "refusal": None},
                "logprobs": _chat_logprobs(choice, top) if body.logprobs else None,
                "finish_reason": choice.finish_reason,
            }
        )
    prompt_text = "".join(str(m.get("content") or "") for m in messages)
    return _json(
        {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "system_fingerprint": None,
            "choices": choices,
            "usage": _usage(len(model.encoding.encode_ordinary(prompt_text)), completion_tokens),
        }
    )


def _chat_logprobs(choice: Any, top: int | None) -> dict[str, Any]:
    content = []
    for position, (token, logprob) in enumerate(
        zip(choice.tokens, choice.token_logprobs, strict=True)
    ):
        alternatives = (choice.top_logprobs or [None] * len(choice.tokens))[position] or {}
        ranked = sorted(alternatives.items(), key=lambda kv: -kv[1])[: top or 0]
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


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    return (stop,) if isinstance(stop, str) else tuple(stop or ())


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
