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
    """The first problem of a rejected request body or query, worded like OpenAI's."""
    errors = list(exc.errors())
    # In a union ("auto" | number), report the number's problem rather than "should be 'auto'".
    error: dict[str, Any] = next(
        (e for e in errors if not any(str(p).startswith("literal[") for p in e.get("loc", ()))),
        errors[0],
    )
    loc = [str(part) for part in error.get("loc", ()) if not _is_schema_tag(part)]
    param = ".".join(loc) or None
    if error.get("type") == "missing":
        return bad_request(f"Missing required parameter: '{param}'.", param=param)
    if error.get("type") == "extra_forbidden":
        return bad_request(f"Unrecognized request argument supplied: {param}", param=param)
    if error.get("type") == "json_invalid":
        return bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        )
    return bad_request(f"Invalid value for '{param}': {error.get('msg', 'invalid')}.", param=param)


_SCHEMA_TAGS = {"body", "query", "path", "int", "float", "str", "bool", "list", "dict"}


def _is_schema_tag(part: object) -> bool:
    """Location parts pydantic adds for unions and constraints, not parameter names."""
    text = str(part)
    return text in _SCHEMA_TAGS or "[" in text or text.startswith("constrained-")
