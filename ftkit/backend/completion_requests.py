"""Completion and chat request bodies and the checks OpenAI makes beyond their types.

The pydantic models reject wrong types, ranges and unknown arguments (worded by
`errors.validation_error`); `completion_request` / `chat_request` then check what depends on
several fields or on the model (best_of vs n, logit_bias ids, the context window, what the
model cannot do) and turn the body into token-id prompts plus `SamplingParams`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ftkit.backend.errors import bad_request, empty_array
from ftkit.backend.sampling import CHAT_MAX_TOKENS, GenerativeModel, SamplingParams
from ftkit.errors import BadRequestError

Stop = str | Annotated[list[str], Field(max_length=4)] | None
Prompt = str | list[str] | list[int] | list[list[int]]


class StreamOptions(BaseModel):
    """`stream_options`: only `include_usage` (a last chunk with the usage)."""

    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


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
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, ge=0.0, le=1.0)
    n: int = Field(1, ge=1, le=128)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Stop = None
    seed: int | None = None
    user: str | None = None
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None


class CompletionCreate(_Sampling):
    """`CreateCompletionRequest` (openai-api.md §6.1)."""

    prompt: Prompt
    suffix: str | None = None
    max_tokens: int | None = Field(16, ge=0)
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False
    best_of: int | None = Field(None, ge=0, le=20)


class ChatMessage(BaseModel):
    """One chat message (`name`, `tool_calls`, `tool_call_id`… are kept and ignored)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ResponseFormat(BaseModel):
    """`response_format`: plain text is what every model gives."""

    model_config = ConfigDict(extra="allow")
    type: Literal["text", "json_object", "json_schema"]


class ChatCreate(_Sampling):
    """`CreateChatCompletionRequest` (openai-api.md §6.3)."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    # accepted without effect on the output: storage, tagging and routing hints
    store: bool | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None


@dataclass(frozen=True)
class Request:
    """A checked request: token-id prompts and how to sample them."""

    prompts: list[list[int]]
    params: SamplingParams
    include_usage: bool


def completion_request(body: CompletionCreate, model: GenerativeModel) -> Request:
    """Check a completions body against the model; 400 in OpenAI's words otherwise."""
    prompts = _prompt_ids(body.prompt, model)
    if body.suffix is not None and not model.supports_suffix:
        raise _unsupported("suffix")
    best_of = body.best_of
    if best_of is not None and best_of < body.n:
        raise bad_request(
            f"Invalid value for 'best_of': best_of ({best_of}) must be greater than or equal "
            f"to n ({body.n}).",
            "best_of",
            "invalid_value",
        )
    if body.stream and best_of is not None and best_of > body.n:
        raise bad_request(
            "Invalid value for 'best_of': results cannot be streamed when best_of is greater "
            "than n.",
            "best_of",
            "invalid_value",
        )
    max_tokens = 16 if body.max_tokens is None else body.max_tokens
    for prompt in prompts:
        _check_context(model, len(prompt), max_tokens, "prompt")
    params = replace(
        _params(body, model, max_tokens, body.logprobs),
        best_of=best_of,
        echo=body.echo,
        suffix=body.suffix,
    )
    return Request(prompts, params, _include_usage(body))


def chat_request(body: ChatCreate, model: GenerativeModel) -> Request:
    """Check a chat body against the model; 400 in OpenAI's words otherwise."""
    messages = []
    for index, message in enumerate(body.messages):
        _check_message(index, message)
        messages.append(message.model_dump(exclude_none=True))
    if body.top_logprobs is not None and not body.logprobs:
        raise bad_request(
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
            "'top_logprobs' is specified.",
            "top_logprobs",
            "invalid_value",
        )
    if body.response_format is not None and body.response_format.type != "text":
        raise bad_request(
            f"Invalid parameter: 'response_format' of type '{body.response_format.type}' is "
            "not supported with this model.",
            "response_format",
            "unsupported_parameter",
        )
    for name in ("tools", "functions"):
        if getattr(body, name):
            raise _unsupported(name)
    for choice, tools in (("tool_choice", "tools"), ("function_call", "functions")):
        if getattr(body, choice) is not None and not getattr(body, tools):
            raise bad_request(
                f"Invalid value for '{choice}': '{choice}' is only allowed when '{tools}' are "
                "specified.",
                choice,
                "invalid_value",
            )
    prompt = model.tokenizer.encode_ordinary(model.chat_prompt(messages))
    asked = body.max_completion_tokens if body.max_completion_tokens is not None else None
    asked = body.max_tokens if asked is None else asked
    if asked is None:
        max_tokens = max(0, min(CHAT_MAX_TOKENS, model.context_length - len(prompt)))
    else:
        _check_context(model, len(prompt), asked, "messages")
        max_tokens = asked
    top = (body.top_logprobs or 0) if body.logprobs else None
    return Request([prompt], _params(body, model, max_tokens, top), _include_usage(body))


def _params(
    body: _Sampling, model: GenerativeModel, max_tokens: int, logprobs: int | None
) -> SamplingParams:
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        n=body.n,
        stop=stop,
        logprobs=logprobs,
        logit_bias=_logit_bias(body.logit_bias or {}, model.tokenizer.n_vocab),
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        seed=body.seed,
    )


def _include_usage(body: _Sampling) -> bool:
    if body.stream_options is not None and not body.stream:
        raise bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    return body.stream_options is not None and body.stream_options.include_usage


def _prompt_ids(prompt: Prompt, model: GenerativeModel) -> list[list[int]]:
    """Token ids of each prompt: a string, strings, a token array or token arrays."""
    if prompt == []:
        raise empty_array("prompt")
    if isinstance(prompt, str):
        prompts: Sequence[str | list[int]] = [prompt]
    elif all(isinstance(p, int) for p in prompt):
        prompts = [prompt]  # type: ignore[list-item]
    else:
        prompts = prompt  # type: ignore[assignment]
    ids = []
    vocabulary = model.tokenizer.n_vocab
    for item in prompts:
        if isinstance(item, str):
            ids.append(model.tokenizer.encode_ordinary(item))
            continue
        bad = next((t for t in item if not 0 <= t < vocabulary), None)
        if bad is not None:
            raise bad_request(
                f"Invalid token in 'prompt': {bad}. Token ids must be between 0 and "
                f"{vocabulary - 1}.",
                "prompt",
                "invalid_value",
            )
        ids.append(list(item))
    return ids


def _logit_bias(bias: dict[str, float], vocabulary: int) -> dict[int, float]:
    """Token id → bias, checked: ids in the vocabulary, biases in −100…100."""
    checked = {}
    for key, value in bias.items():
        if not key.strip().lstrip("-").isdigit() or not 0 <= int(key) < vocabulary:
            raise bad_request(
                f"Invalid key in 'logit_bias': {key}. Keys must be token ids between 0 and "
                f"{vocabulary - 1}.",
                "logit_bias",
                "invalid_value",
            )
        if not -100 <= value <= 100:
            raise bad_request(
                f"Invalid value in 'logit_bias' for token {key}: {value:g}. Biases must be "
                "between -100 and 100.",
                "logit_bias",
                "invalid_value",
            )
        checked[int(key)] = value
    return checked


def _check_context(model: GenerativeModel, prompt: int, completion: int, param: str) -> None:
    if prompt + completion > model.context_length:
        raise bad_request(
            f"This model's maximum context length is {model.context_length} tokens, however you "
            f"requested {prompt + completion} tokens ({prompt} in your prompt; {completion} for "
            "the completion). Please reduce your prompt; or completion length.",
            param,
            "context_length_exceeded",
        )


def _check_message(index: int, message: ChatMessage) -> None:
    """Content is required except on an assistant message that calls tools; text parts only."""
    extra = message.model_extra or {}
    calls = extra.get("tool_calls") or extra.get("function_call")
    if message.content is None and not (message.role == "assistant" and calls):
        param = f"messages[{index}].content"
        raise bad_request(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    for part_index, part in enumerate(message.content or []):
        if isinstance(part, dict) and part.get("type") != "text":
            raise bad_request(
                f"Invalid content type. {part.get('type')} is only supported by certain models.",
                f"messages[{index}].content[{part_index}].type",
                "invalid_value",
            )


def _unsupported(param: str) -> BadRequestError:
    return bad_request(
        f"Unsupported parameter: '{param}' is not supported with this model.",
        param,
        "unsupported_parameter",
    )
