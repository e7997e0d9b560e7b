"""One item → one example, or the problems that stop it from being one.

Used by both passes (checking and writing), in the main process or in worker processes, so it
is plain functions over plain values.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from ftkit.data.models import DataShape

Problem = tuple[str, int, str]  # (finding code, line, detail)

CHAT_ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
CHAT_TOP_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
CHAT_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call", "tool_call_id", "refusal"}
)
PC_KEYS = ("prompt", "completion")


class Example(NamedTuple):
    """A well-formed example. For chat, `prompt` is the JSON of the messages before the last
    assistant message and `completion` that message's content."""

    line: int
    prompt: str
    completion: str
    record: dict[str, Any]


def parse_payload(line: int, payload: Any, shape: DataShape | None) -> tuple[Any, list[Problem]]:
    """Decode one item: (object or None, problems). Blank lines give (None, [blank_line])."""
    if payload is None:
        return None, [("invalid_utf8", line, "")]
    if not isinstance(payload, bytes):
        return payload, []
    try:
        return orjson.loads(payload), []
    except orjson.JSONDecodeError as exc:
        if not payload.strip():
            return None, [("blank_line", line, "")]
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as bad:
            return None, [("invalid_utf8", line, f"byte {bad.start + 1}")]
        return None, [("invalid_json", line, str(exc).split(": line")[0])]


def detect_shape(obj: Any) -> DataShape | None:
    """chat when the object has `messages`, prompt_completion for other objects."""
    if not isinstance(obj, dict):
        return None
    return "chat" if "messages" in obj else "prompt_completion"


def to_example(line: int, obj: Any, shape: DataShape) -> tuple[Example | None, list[Problem]]:
    """Check one decoded object against the format; the example is None if it is unusable."""
    if not isinstance(obj, dict):
        return None, [("not_object", line, type(obj).__name__)]
    if shape == "chat":
        return _chat_example(line, obj)
    return _pc_example(line, obj)


def _pc_example(line: int, obj: dict[str, Any]) -> tuple[Example | None, list[Problem]]:
    problems: list[Problem] = []
    if "messages" in obj:
        return None, [("mixed_format", line, "messages")]
    if len(obj) != 2 or "prompt" not in obj or "completion" not in obj:
        obj = _recased(line, obj, problems)
    values = []
    usable = True
    for key in PC_KEYS:
        value = obj.get(key, _MISSING)
        if value is _MISSING:
            problems.append(("missing_key", line, key))
            usable = False
        elif not isinstance(value, str):
            problems.append(("non_string", line, f"{key}={_type_name(value)}"))
            usable = False
        values.append(value)
    if not usable:
        return None, problems
    prompt, completion = values
    if completion == "":
        problems.append(("empty_completion", line, ""))
        return None, problems
    if prompt == "":
        problems.append(("empty_prompt", line, ""))
    return Example(line, prompt, completion, obj), problems


_MISSING = object()


def _recased(line: int, obj: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """Accept `Prompt`/`COMPLETION` as the legacy tool does (with a warning); note extra keys."""
    fixed: dict[str, Any] = {}
    unknown = []
    for key, value in obj.items():
        lowered = key.lower() if isinstance(key, str) else key
        if key in PC_KEYS:
            fixed[key] = value
        elif lowered in PC_KEYS and lowered not in obj:
            fixed[lowered] = value
            problems.append(("key_case", line, key))
        else:
            unknown.append(key)
    if unknown:
        problems.append(("unknown_keys", line, ",".join(sorted(map(str, unknown)))))
    return fixed


def _chat_example(line: int, obj: dict[str, Any]) -> tuple[Example | None, list[Problem]]:
    problems: list[Problem] = []
    if "messages" not in obj and ("prompt" in obj or "completion" in obj):
        return None, [("mixed_format", line, "prompt/completion")]
    unknown = [key for key in obj if key not in CHAT_TOP_KEYS]
    if unknown:
        problems.append(("unknown_keys", line, ",".join(sorted(unknown))))
    messages = obj.get("messages", _MISSING)
    if not isinstance(messages, list) or not messages:
        problems.append(("chat_messages", line, _type_name(messages)))
        return None, problems
    usable = True
    last_assistant = -1
    for index, message in enumerate(messages):
        where = f"message {index + 1}"
        if not isinstance(message, dict):
            problems.append(("chat_messages", line, f"{where} is {_type_name(message)}"))
            usable = False
            continue
        role = message.get("role")
        if role not in CHAT_ROLES:
            problems.append(("chat_role", line, f"{where} role={_short(role)}"))
            usable = False
        extra = [key for key in message if key not in CHAT_MESSAGE_KEYS]
        if extra:
            problems.append(("chat_unknown_keys", line, f"{where}: {','.join(sorted(extra))}"))
        content = message.get("content", _MISSING)
        calls = "tool_calls" in message or "function_call" in message
        if not isinstance(content, str) and not (calls and content in (None, _MISSING)):
            problems.append(("chat_content", line, f"{where} content={_type_name(content)}"))
            usable = False
        if "weight" in message and (
            role != "assistant"
            or isinstance(message["weight"], bool)
            or message["weight"] not in (0, 1)
        ):
            problems.append(("chat_weight", line, f"{where} weight={_short(message['weight'])}"))
            usable = False
        if role == "assistant":
            last_assistant = index
    if last_assistant < 0:
        problems.append(("chat_no_assistant", line, ""))
        usable = False
    if not usable:
        return None, problems
    completion = messages[last_assistant].get("content") or ""
    prompt = orjson.dumps(messages[:last_assistant]).decode()
    if completion == "" and not (
        "tool_calls" in messages[last_assistant] or "function_call" in messages[last_assistant]
    ):
        problems.append(("empty_completion", line, ""))
        return None, problems
    return Example(line, prompt, completion, obj), problems


def _type_name(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode() if value is not _MISSING else "missing"
    return text if len(text) <= 40 else text[:37] + "..."
