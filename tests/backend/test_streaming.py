"""Streaming completions and chat (server-sent events), as the official SDK consumes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from ftkit.data.tokens import encoding_name, get_encoding

CHAT = [{"role": "user", "content": "Say something."}]


def never_ending(model: str) -> dict[str, int]:
    """A `logit_bias` banning the end token, so a base model writes exactly `max_tokens`."""
    return {str(get_encoding(encoding_name(model)).eot_token): -100}


@pytest.fixture(scope="module")
def sdk(shared_backend: Any) -> Iterator[openai.OpenAI]:
    """The official client on the fixture backend."""
    with openai.OpenAI(base_url=shared_backend.url, api_key="sk-test", max_retries=0) as client:
        yield client


def test_completion_stream_joins_into_the_unstreamed_completion(sdk: openai.OpenAI) -> None:
    """Same seed, same text and logprobs token by token; usage last with include_usage."""
    settings: dict[str, Any] = {
        "model": "babbage-002",
        "prompt": ["Hello", "Goodbye"],
        "max_tokens": 6,
        "n": 2,
        "seed": 4,
        "logprobs": 2,
    }
    whole = sdk.completions.create(**settings)
    chunks = list(
        sdk.completions.create(**settings, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
    for choice in whole.choices:
        parts = [c.choices[0] for c in chunks[:-1] if c.choices[0].index == choice.index]
        assert "".join(p.text for p in parts) == choice.text
        streamed = [t for p in parts for t in (p.logprobs.tokens if p.logprobs else [])]
        assert choice.logprobs is not None and streamed == choice.logprobs.tokens
        assert parts[-1].finish_reason == choice.finish_reason
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_deltas_join_into_the_message(sdk: openai.OpenAI) -> None:
    """A role delta first, then content deltas; the SDK's stream helper rebuilds the message."""
    settings: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": CHAT,
        "max_tokens": 40,
        "stop": [",", ".", " the", " of"],  # the stream helper wants a finished reply
        "seed": 2,
        "logprobs": True,
        "top_logprobs": 2,
    }
    whole = sdk.chat.completions.create(**settings)
    chunks = list(sdk.chat.completions.create(**settings, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    with sdk.chat.completions.stream(**settings) as events:
        final = events.get_final_completion()
    assert final.choices[0].message.content == whole.choices[0].message.content
    assert final.choices[0].logprobs is not None and whole.choices[0].logprobs is not None
    assert [t.token for t in final.choices[0].logprobs.content or []] == [
        t.token for t in whole.choices[0].logprobs.content or []
    ]


def test_chat_stream_usage_chunk_counts_the_reply(sdk: openai.OpenAI) -> None:
    """`stream_options.include_usage`: a last chunk with no choices and the usage."""
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=CHAT,  # type: ignore[arg-type]
            max_tokens=5,
            n=2,
            logit_bias=never_ending("gpt-4o-mini"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.completion_tokens == 10  # 2 choices x 5 tokens
    assert {c.choices[0].index for c in chunks[:-1]} == {0, 1}


def test_the_wire_format_is_data_lines_ending_with_done(shared_backend: Any) -> None:
    """`text/event-stream`, `data: {json}` events, `data: [DONE]` last."""
    body = {
        "model": "babbage-002",
        "prompt": "Hi",
        "max_tokens": 3,
        "logit_bias": never_ending("babbage-002"),
        "stream": True,
    }
    with httpx.stream("POST", f"{shared_backend.url}/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-1]) and len(events) == 4
