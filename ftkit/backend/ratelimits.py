"""`x-ratelimit-*` headers on the model endpoints, as OpenAI sends them (openai-api.md §7.3).

Each organization has a sliding one-minute window of requests and estimated tokens (request
body characters / 4, OpenAI's own rough estimate before it counts precisely). The headers
report the nominal limits below, what is left of them in the window, and how long until what was
used is replenished at the limit's rate (Go-style durations: `1s`, `6m0s`, `20ms`). The embedded backend does not throttle:
429s come only from fault injection (`ftkit serve --enable-faults`), so the limits are
advisory numbers for clients that pace themselves by these headers.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LIMIT_REQUESTS = 10_000
LIMIT_TOKENS = 2_000_000
WINDOW_SECONDS = 60.0
MODEL_PATHS = ("/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/moderations")


class RateWindows:
    """Requests and estimated tokens per organization over the last minute."""

    def __init__(self) -> None:
        self._seen: defaultdict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._lock = threading.Lock()

    def record(self, org: str, tokens: int, now: float | None = None) -> dict[str, str]:
        """Count one request; the headers describing the window after it."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen[org]
            seen.append((now, tokens))
            while seen and seen[0][0] <= now - WINDOW_SECONDS:
                seen.popleft()
            used_tokens = sum(t for _, t in seen)
            requests = len(seen)
        return {
            "x-ratelimit-limit-requests": str(LIMIT_REQUESTS),
            "x-ratelimit-limit-tokens": str(LIMIT_TOKENS),
            "x-ratelimit-remaining-requests": str(max(0, LIMIT_REQUESTS - requests)),
            "x-ratelimit-remaining-tokens": str(max(0, LIMIT_TOKENS - used_tokens)),
            "x-ratelimit-reset-requests": go_duration(requests * WINDOW_SECONDS / LIMIT_REQUESTS),
            "x-ratelimit-reset-tokens": go_duration(used_tokens * WINDOW_SECONDS / LIMIT_TOKENS),
        }


def go_duration(seconds: float) -> str:
    """`20ms`, `1s`, `17.28s`, `6m0s`."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.2f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


class RateLimitHeaders:
    """ASGI middleware adding the headers to model-endpoint responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.windows = RateWindows()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in MODEL_PATHS:
            await self.app(scope, receive, send)
            return
        size = 0

        async def counting(  # body characters, for the token estimate
        ) -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                caller = _header(scope, b"openai-organization") or _header(scope, b"authorization")
                key = hashlib.sha256(caller.encode()).hexdigest()  # never keep a key itself
                headers = self.windows.record(key, size // 4)
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in headers.items()),
                ]
            await send(message)

        await self.app(scope, counting, with_headers)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""
