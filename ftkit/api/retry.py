"""When and how long to wait before retrying a request: the official SDK's conventions.

Retried: timeouts, connection errors, and statuses 408, 409, 429 and 5xx, unless the server says
`x-should-retry: false` (and always when it says `true`). The wait is the server's
`retry-after-ms`, else `retry-after` (seconds or an HTTP date) when it is at most 120 s;
a longer server delay is not retried at all. Without a server delay: exponential backoff
`min(0.5 * 2**n, 8) * (1 - 0.25 * random())`.

`set_testing(True)` makes every wait zero so tests never sleep (like `stamina.set_testing`).
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({408, 409, 429})
MAX_SERVER_DELAY_S = 120.0

_testing = False


def set_testing(on: bool) -> None:
    """Turn every retry wait and poll interval into zero (for tests); retries still happen."""
    global _testing
    _testing = on


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how long to wait between them."""

    max_retries: int = 2
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def backoff(self, retries_taken: int) -> float:
        """Exponential backoff with up to 25% jitter below the nominal delay."""
        nominal = min(self.initial_delay_s * 2**retries_taken, self.max_delay_s)
        return nominal * (1 - 0.25 * random.random())

    def delay(self, retries_taken: int, headers: Mapping[str, str] | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the server asks for > 120 s."""
        server = server_delay(headers) if headers is not None else None
        if server is not None and server > MAX_SERVER_DELAY_S:
            return None
        wait = server if server is not None and server > 0 else self.backoff(retries_taken)
        return 0.0 if _testing else wait


def server_delay(headers: Mapping[str, str]) -> float | None:
    """The delay the server asked for: `retry-after-ms`, then `retry-after` (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        with contextlib.suppress(ValueError):
            value = float(millis) / 1000
            if math.isfinite(value):
                return value
    after = headers.get("retry-after")
    if after is None:
        return None
    try:
        value = float(after)
    except ValueError:
        parsed = email.utils.parsedate_tz(after)
        if parsed is None:
            return None
        return email.utils.mktime_tz(parsed) - time.time()
    return value if math.isfinite(value) else None


def should_retry_status(status_code: int, headers: Mapping[str, str]) -> bool:
    """The SDK's rule: `x-should-retry` wins; else 408, 409, 429 and 5xx are retried."""
    flag = headers.get("x-should-retry")
    if flag == "true":
        return True
    if flag == "false":
        return False
    return status_code in RETRYABLE_STATUSES or status_code >= 500
