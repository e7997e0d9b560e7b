"""Exact token counts of one example, as the fine-tuning API bills them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken


def example_tokens(
    prompt: str, completion: str, record: dict[str, Any] | None, encoding: tiktoken.Encoding
) -> tuple[int, int]:
    """(tokens of the whole example, tokens of what the model learns to write).

    Prompt/completion: prompt + completion tokens. Chat (`record` given): see chat_tokens.
    """
    if record is not None:
        return chat_tokens(record, encoding)
    completion_tokens = len(encoding.encode_ordinary(completion))
    return len(encoding.encode_ordinary(prompt)) + completion_tokens, completion_tokens


def chat_tokens(record: dict[str, Any], encoding: tiktoken.Encoding) -> tuple[int, int]:
    """(tokens of a chat example, tokens of its last assistant message).

    Content, role and name tokens plus the 3-token framing per message and the 3-token reply
    priming of the OpenAI cookbook's counting recipe.
    """
    encode = encoding.encode_ordinary
    total = 3
    last = 0
    for message in record["messages"]:
        content = message.get("content")
        content_tokens = len(encode(content)) if isinstance(content, str) else 0
        total += 3 + content_tokens + len(encode(message["role"]))
        if isinstance(message.get("name"), str):
            total += 1 + len(encode(message["name"]))
        if message["role"] == "assistant":
            last = content_tokens
    return total, last
