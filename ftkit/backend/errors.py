"""Errors in OpenAI's shape: `{"error": {message, type, param, code}}` with the real status codes.

Routes raise the client-side exception types of `ftkit.errors` (so client and server share one
vocabulary); `error_response` renders them.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from ftkit.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
)

SERVER_ERROR_TEXT = "The server had an error while processing your request. Sorry about that!"
OVERLOADED_TEXT = "The engine is currently overloaded, please try again later."
QUOTA_TEXT = "You exceeded your current quota, please check your plan and billing details."


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> bytes:
    """The JSON body of an error response."""
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})


def error_response(exc: APIStatusError, headers: dict[str, str] | None = None) -> Response:
    """Render an `APIStatusError` as OpenAI renders errors."""
    body = error_body(exc.message, exc.type or "invalid_request_error", exc.param, exc.code)
    return Response(body, exc.status_code, headers=headers, media_type="application/json")


def bad_request(message: str, param: str | None = None, code: str | None = None) -> BadRequestError:
    """400 invalid_request_error."""
    return BadRequestError(
        message, status_code=400, type="invalid_request_error", param=param, code=code
    )


def not_found(message: str, param: str | None = "id", code: str | None = None) -> NotFoundError:
    """404 invalid_request_error."""
    return NotFoundError(
        message, status_code=404, type="invalid_request_error", param=param, code=code
    )


def no_such(kind: str, object_id: str) -> NotFoundError:
    """404 `No such File object: file-…` (same wording for every object kind)."""
    return not_found(f"No such {kind} object: {object_id}")


def unauthorized(message: str, code: str | None) -> AuthenticationError:
    """401 invalid_request_error."""
    return AuthenticationError(message, status_code=401, type="invalid_request_error", code=code)


def forbidden(message: str) -> PermissionDeniedError:
    """403 invalid_request_error."""
    return PermissionDeniedError(message, status_code=403, type="invalid_request_error")


def too_large(limit: int) -> APIStatusError:
    """413 for an upload over the size limit."""
    return APIStatusError(
        f"File is too large: the limit is {limit} bytes.",
        status_code=413,
        type="invalid_request_error",
        param="file",
    )


def rate_limited(quota: bool) -> RateLimitError:
    """429: a rate limit, or an exhausted quota."""
    if quota:
        return QuotaExceededError(
            QUOTA_TEXT, status_code=429, type="insufficient_quota", code="insufficient_quota"
        )
    return RateLimitError(
        "Rate limit reached for requests in organization on requests per min (RPM): Limit 3, "
        "Used 3, Requested 1. Please try again in 20s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        status_code=429,
        type="requests",
        code="rate_limit_exceeded",
    )


def server_error(status: int = 500) -> InternalServerError:
    """500 server_error, or 503 overloaded."""
    text = OVERLOADED_TEXT if status == 503 else SERVER_ERROR_TEXT
    return InternalServerError(text, status_code=status, type="server_error")


def validation_error(exc: RequestValidationError) -> BadRequestError:
    """The first problem of a rejected request body or query, worded and coded like OpenAI's.

    In a union (`stop`: string or array) the branch whose type matched explains the problem
    best, so constraint errors are preferred over type errors.
    """
    errors = [e for e in exc.errors() if not _is_literal_branch(e)] or list(exc.errors())
    error: dict[str, Any] = min(errors, key=lambda e: str(e.get("type", "")) in _TYPE_ERRORS)
    loc = [part for part in error.get("loc", ()) if not _is_schema_tag(part)]
    param = _param_path(loc)
    kind, ctx, value = str(error.get("type")), error.get("ctx") or {}, error.get("input")
    if kind == "json_invalid" or (kind == "missing" and param is None):
        return bad_request(JSON_BODY_TEXT)
    if kind == "missing":
        return bad_request(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    if kind == "extra_forbidden":
        return bad_request(
            f"Unrecognized request argument supplied: {param}", param, "unknown_parameter"
        )
    if kind in _BOUNDS:
        above, symbol, key = _BOUNDS[kind]
        limit = ctx.get(key)
        number = "integer" if isinstance(limit, int) and isinstance(value, int) else "decimal"
        side = "above maximum" if above else "below minimum"
        return bad_request(
            f"Invalid '{param}': {number} {side} value. Expected a value {symbol} {limit:g}, "
            f"but got {value} instead.",
            param,
            f"{number}_{'above_max' if above else 'below_min'}_value",
        )
    if kind in ("too_long", "too_short", "string_too_long", "string_too_short"):
        return _length_error(kind, param, ctx, value)
    if kind in _TYPE_ERRORS:
        return bad_request(
            f"Invalid type for '{param}': expected {_TYPE_ERRORS[kind]}, but got "
            f"{_json_type(value)} instead.",
            param,
            "invalid_type",
        )
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return bad_request(
            f"Invalid value: '{value}'. Supported values are: {expected}.", param, "invalid_value"
        )
    return bad_request(f"Invalid value for '{param}': {error.get('msg', 'invalid')}.", param)


JSON_BODY_TEXT = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)
_BOUNDS = {
    "less_than_equal": (True, "<=", "le"),
    "less_than": (True, "<", "lt"),
    "greater_than_equal": (False, ">=", "ge"),
    "greater_than": (False, ">", "gt"),
}
_TYPE_ERRORS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a decimal",
    "float_parsing": "a decimal",
    "string_type": "a string",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def empty_array(param: str) -> BadRequestError:
    """400 for an array parameter that must not be empty."""
    return _length_error("too_short", param, {"min_length": 1}, [])


def _length_error(kind: str, param: str | None, ctx: dict[str, Any], value: Any) -> BadRequestError:
    noun = "string" if kind.startswith("string") else "array"
    length = len(value) if hasattr(value, "__len__") else ctx.get("actual_length")
    if kind.endswith("too_long"):
        limit = ctx.get("max_length")
        return bad_request(
            f"Invalid '{param}': {noun} too long. Expected {_a(noun)} with maximum length "
            f"{limit}, but got {_a(noun)} with length {length} instead.",
            param,
            f"{noun}_above_max_length",
        )
    limit = ctx.get("min_length")
    if length == 0:
        return bad_request(
            f"Invalid '{param}': empty {noun}. Expected {_a(noun)} with minimum length {limit}, "
            f"but got an empty {noun} instead.",
            param,
            f"empty_{noun}",
        )
    return bad_request(
        f"Invalid '{param}': {noun} too short. Expected {_a(noun)} with minimum length {limit}, "
        f"but got {_a(noun)} with length {length} instead.",
        param,
        f"{noun}_below_min_length",
    )


def _a(noun: str) -> str:
    return "an array" if noun == "array" else "a string"


def _json_type(value: Any) -> str:
    """How OpenAI names a JSON value's type."""
    if value is None:
        return "null"
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a decimal"),
        (str, "a string"),
        (list, "an array"),
        (dict, "an object"),
    ):
        if isinstance(value, kind):
            return name
    return "an unknown type"


def _param_path(loc: list[Any]) -> str | None:
    """`messages[0].content` from ("messages", 0, "content")."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


def _is_literal_branch(error: Any) -> bool:
    """An error of a union's literal branch ("auto" | number): the other branch explains it."""
    return any(str(p).startswith("literal[") for p in error.get("loc", ()))


_SCHEMA_TAGS = {"body", "query", "path", "int", "float", "str", "bool", "list", "dict"}


def _is_schema_tag(part: object) -> bool:
    """Location parts pydantic adds for unions and constraints, not parameter names."""
    if isinstance(part, int):
        return False
    text = str(part)
    return text in _SCHEMA_TAGS or "[" in text or text.startswith("constrained-")
