"""Every request error in OpenAI's words and shape: message, type, param, code (one table).

Each row is a request a client can send and the error OpenAI gives for it; the second table
holds requests that OpenAI accepts and so must we.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

COMPLETE = "/completions"
CHAT = "/chat/completions"
BASE = {"model": "babbage-002", "prompt": "Hello"}
TALK = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
JSON_BODY = "We could not parse the JSON body of your request."

ERRORS: list[tuple[str, str, Any, int, str | None, str | None, str]] = [
    # (name, path, body, status, param, code, message start)
    ("no body", COMPLETE, None, 400, None, None, JSON_BODY),
    ("empty object", COMPLETE, {}, 400, "model", "missing_required_parameter",
     "Missing required parameter: 'model'."),
    ("missing prompt", COMPLETE, {"model": "babbage-002"}, 400, "prompt",
     "missing_required_parameter", "Missing required parameter: 'prompt'."),
    ("empty prompt array", COMPLETE, {**BASE, "prompt": []}, 400, "prompt", "empty_array",
     "Invalid 'prompt': empty array. Expected an array with minimum length 1, but got an empty "
     "array instead."),
    ("token outside the vocabulary", COMPLETE, {**BASE, "prompt": [[15496], [10**9]]}, 400,
     "prompt", "invalid_value", "Invalid token in 'prompt': 1000000000."),
    ("temperature above 2", COMPLETE, {**BASE, "temperature": 3}, 400, "temperature",
     "decimal_above_max_value",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 "
     "instead."),
    ("temperature as text", COMPLETE, {**BASE, "temperature": "hot"}, 400, "temperature",
     "invalid_type",
     "Invalid type for 'temperature': expected a decimal, but got a string instead."),
    ("n below 1", COMPLETE, {**BASE, "n": 0}, 400, "n", "integer_below_min_value",
     "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    ("logprobs above 5", COMPLETE, {**BASE, "logprobs": 6}, 400, "logprobs",
     "integer_above_max_value", "Invalid 'logprobs': integer above maximum value."),
    ("five stop sequences", COMPLETE, {**BASE, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop",
     "array_above_max_length",
     "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an "
     "array with length 5 instead."),
    ("best_of below n", COMPLETE, {**BASE, "best_of": 1, "n": 2}, 400, "best_of",
     "invalid_value", "Invalid value for 'best_of': best_of (1) must be greater than or equal"),
    ("best_of streamed", COMPLETE, {**BASE, "best_of": 3, "stream": True}, 400, "best_of",
     "invalid_value", "Invalid value for 'best_of': results cannot be streamed"),
    ("logit_bias above 100", COMPLETE, {**BASE, "logit_bias": {"11": 101}}, 400, "logit_bias",
     "invalid_value", "Invalid value in 'logit_bias' for token 11: 101."),
    ("logit_bias key not a token", COMPLETE, {**BASE, "logit_bias": {"abc": 1}}, 400,
     "logit_bias", "invalid_value", "Invalid key in 'logit_bias': abc."),
    ("logit_bias key outside the vocabulary", COMPLETE, {**BASE, "logit_bias": {"999999": 1}},
     400, "logit_bias", "invalid_value", "Invalid key in 'logit_bias': 999999."),
    ("max_tokens beyond the context", COMPLETE, {**BASE, "max_tokens": 100000}, 400, "prompt",
     "context_length_exceeded",
     "This model's maximum context length is 16384 tokens, however you requested 100001 "
     "tokens (1 in your prompt; 100000 for the completion)."),
    ("suffix on a model without insertion", COMPLETE, {**BASE, "suffix": "end"}, 400, "suffix",
     "unsupported_parameter", "Unsupported parameter: 'suffix' is not supported with this model."),
    ("unknown argument", COMPLETE, {**BASE, "foo": 1}, 400, "foo", "unknown_parameter",
     "Unrecognized request argument supplied: foo"),
    ("stream_options without stream", COMPLETE,
     {**BASE, "stream_options": {"include_usage": True}}, 400, "stream_options", "invalid_value",
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."),
    ("unknown model", COMPLETE, {**BASE, "model": "nope"}, 404, "model", "model_not_found",
     "The model `nope` does not exist or you do not have access to it."),
    ("chat model on completions", COMPLETE, {**BASE, "model": "gpt-3.5-turbo"}, 404, "model",
     None, "This is a chat model and not supported in the v1/completions endpoint."),
    ("message without content", CHAT, {**TALK, "messages": [{"role": "user"}]}, 400,
     "messages[0].content", "missing_required_parameter",
     "Missing required parameter: 'messages[0].content'."),
    ("no messages", CHAT, {**TALK, "messages": []}, 400, "messages", "empty_array",
     "Invalid 'messages': empty array."),
    ("unknown role", CHAT, {**TALK, "messages": [{"role": "robot", "content": "x"}]}, 400,
     "messages[0].role", "invalid_value", "Invalid value: 'robot'. Supported values are:"),
    ("image content", CHAT,
     {**TALK, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400,
     "messages[0].content[0].type", "invalid_value",
     "Invalid content type. image_url is only supported by certain models."),
    ("top_logprobs without logprobs", CHAT, {**TALK, "top_logprobs": 2}, 400, "top_logprobs",
     "invalid_value", "Invalid value for 'top_logprobs': 'logprobs' must be set to true"),
    ("top_logprobs above 20", CHAT, {**TALK, "logprobs": True, "top_logprobs": 21}, 400,
     "top_logprobs", "integer_above_max_value", "Invalid 'top_logprobs': integer above maximum"),
    ("JSON mode", CHAT, {**TALK, "response_format": {"type": "json_object"}}, 400,
     "response_format", "unsupported_parameter",
     "Invalid parameter: 'response_format' of type 'json_object' is not supported with this "
     "model."),
    ("tools", CHAT, {**TALK, "tools": [{"type": "function", "function": {"name": "f"}}]}, 400,
     "tools", "unsupported_parameter",
     "Unsupported parameter: 'tools' is not supported with this model."),
    ("tool_choice without tools", CHAT, {**TALK, "tool_choice": "auto"}, 400, "tool_choice",
     "invalid_value", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when"),
    ("unknown chat argument", CHAT, {**TALK, "reasoning": "hard"}, 400, "reasoning",
     "unknown_parameter", "Unrecognized request argument supplied: reasoning"),
    ("completion model on chat", CHAT, {**TALK, "model": "davinci-002"}, 404, "model", None,
     "This is not a chat model and thus not supported in the v1/chat/completions endpoint."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "param", "code", "message"),
    [row[1:] for row in ERRORS],
    ids=[row[0] for row in ERRORS],
)
def test_request_error_is_worded_like_openai(
    shared_api: httpx.Client,
    path: str,
    body: Any,
    status: int,
    param: str | None,
    code: str | None,
    message: str,
) -> None:
    """Status, the four keys of the error object, and the message's wording."""
    response = shared_api.post(path, json=body) if body is not None else shared_api.post(path)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert error["message"].startswith(message), error["message"]


ACCEPTED: list[tuple[str, str, dict[str, Any]]] = [
    ("token array prompt", COMPLETE, {**BASE, "prompt": [15496, 995]}),
    ("token arrays prompt", COMPLETE, {**BASE, "prompt": [[15496], [995, 11]]}),
    ("nulls mean defaults", COMPLETE, {**BASE, "suffix": None, "best_of": None, "n": None}),
    ("best_of above n", COMPLETE, {**BASE, "best_of": 3, "n": 2}),
    ("logit_bias in range", COMPLETE, {**BASE, "logit_bias": {"11": -100, "13": 100}}),
    ("text response format", CHAT, {**TALK, "response_format": {"type": "text"}}),
    ("assistant message calling a tool", CHAT, {**TALK, "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]},
        {"role": "tool", "content": "42", "tool_call_id": "c"},
    ]}),
    ("text content parts", CHAT, {**TALK, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]}
    ]}),
    ("storage hints", CHAT, {**TALK, "store": False, "metadata": {"k": "v"}, "user": "u"}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_request_openai_accepts_is_answered(shared_api: httpx.Client, path: str, body: Any) -> None:
    """200 with choices."""
    response = shared_api.post(path, json={**body, "max_tokens": 2})
    assert response.status_code == 200, response.text
    assert response.json()["choices"]


def test_token_array_prompts_count_their_tokens(shared_api: httpx.Client) -> None:
    """A token-array prompt is used as given: its length is the prompt's usage."""
    body = shared_api.post(
        COMPLETE, json={**BASE, "prompt": [[1, 2, 3], [4]], "max_tokens": 1}
    ).json()
    assert body["usage"]["prompt_tokens"] == 4 and len(body["choices"]) == 2


def test_two_file_parts_in_one_upload_are_refused(shared_api: httpx.Client) -> None:
    """Not silently joined: one upload, one file."""
    line = b'{"prompt": "a", "completion": "b"}\n'
    parts = [("file", ("a.jsonl", line)), ("file", ("b.jsonl", line))]
    response = shared_api.post("/files", files=parts, data={"purpose": "fine-tune"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"
    assert response.json()["error"]["message"].startswith("Only one file can be uploaded")
