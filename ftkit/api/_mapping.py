"""The one boundary where httpx failures and error answers become ftkit exceptions.

Everything raised from here has passed through `Redactor`, so no message carries the API key.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx

from ftkit.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    UnprocessableEntityError,
)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_HINTS: dict[type[APIStatusError], str] = {
    AuthenticationError: "Check the API key in the environment variable the provider config names.",
    PermissionDeniedError: "The key is not allowed to do this; check its organisation and role.",
    QuotaExceededError: "The quota or daily limit is used up; check the plan and billing, "
    "or try again tomorrow.",
    RateLimitError: "Too many requests; retries were used up, try again later.",
    InternalServerError: "The provider failed; retries were used up, try again later.",
}

_QUOTA = re.compile(r"insufficient_quota|exceeded your current quota|per day|daily", re.I)
# Keys of the usual shapes, should a provider echo one back that is not ours.
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})")


class Redactor:
    """Removes the API key (and anything shaped like an OpenAI key) from text."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret or None

    def __repr__(self) -> str:
        return "Redactor(***)"

    def __call__(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return _KEY_SHAPES.sub(lambda m: m.group(1)[:3] + "***", text)


def request_id(response: httpx.Response) -> str | None:
    """The provider's request id header, if any."""
    return response.headers.get("x-request-id") or response.headers.get("request-id")


@contextlib.contextmanager
def map_transport_errors(redact: Redactor, what: str) -> Iterator[None]:
    """Turn an httpx failure inside the block into APITimeoutError / APIConnectionError."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(redact(f"{what}: no answer in time ({type(exc).__name__}).")) from exc
    except (httpx.RequestError, httpx.StreamError) as exc:
        detail = str(exc) or type(exc).__name__
        raise APIConnectionError(redact(f"{what}: connection failed ({detail}).")) from exc


def request_was_sent(exc: BaseException) -> bool:
    """False only when the failure surely happened before the request left (connect failed)."""
    cause = exc.__cause__
    return not isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of an error answer, or {} when the body is not the usual JSON."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return {}
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return error
        if isinstance(error, str):
            return {"message": error}
    return {}


def is_quota_error(response: httpx.Response) -> bool:
    """A 429 that waiting will not fix: an exhausted quota or a daily limit."""
    if response.status_code != 429:
        return False
    error = error_body(response)
    text = " ".join(str(error.get(k) or "") for k in ("code", "type", "message"))
    return bool(_QUOTA.search(text))


def status_error(response: httpx.Response, redact: Redactor, what: str) -> APIStatusError:
    """The typed exception for an error answer, with the provider's type/param/code."""
    status = response.status_code
    error = error_body(response)
    cls: type[APIStatusError]
    if is_quota_error(response):
        cls = QuotaExceededError
    elif status >= 500:
        cls = InternalServerError
    else:
        cls = _STATUS_CLASSES.get(status, APIStatusError)
    detail = error.get("message") or response.reason_phrase or "no details"
    code = error.get("code")
    param = error.get("param")
    parts = [f"{what} failed: HTTP {status}"]
    if code:
        parts.append(f" [{code}]")
    if param:
        parts.append(f" (param {param})")
    parts.append(f": {detail}")
    message = "".join(parts).rstrip(".") + "."
    hint = _HINTS.get(cls)
    if hint:
        message += " " + hint
    return cls(
        redact(message),
        status_code=status,
        type=_str_or_none(error.get("type")),
        param=_str_or_none(param),
        code=_str_or_none(code),
        request_id=request_id(response),
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
