"""Exact token counts of one example, as the fine-tuning API bills them."""

from __future__ import annotations

from typing import Any

import tiktoken


def example_tokens(
    prompt: str, completion: str, record: dict[str, Any] | None, encoding: tiktoken.Encoding
) -> tuple[int, int]:
    """(tokens of the whole example, tokens of what the model learns to write).

    Prompt/completion: prompt + completion tokens. Chat (`record` given): content, role and name
    tokens plus the 3-token framing per message and the 3-token reply priming of the OpenAI
    cookbook's counting recipe; the completion is the last assistant message.
    """
    encode = encoding.encode_ordinary
    if record is None:
        completion_tokens = len(encode(completion))
        return len(encode(prompt)) + completion_tokens, completion_tokens
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
