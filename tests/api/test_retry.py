"""The retry policy: the official SDK's rules for what to retry and how long to wait."""

from __future__ import annotations

import email.utils
import time

import pytest

from ftkit.api.retry import RetryPolicy, server_delay, set_testing, should_retry_status


@pytest.fixture(autouse=True)
def _real_delays():
    set_testing(False)
    yield
    set_testing(False)


def test_retry_after_ms_wins_over_retry_after():
    """retry-after-ms is read first, in milliseconds."""
    assert server_delay({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5


def test_retry_after_seconds_and_http_date():
    """retry-after may be seconds (float) or an HTTP date."""
    assert server_delay({"retry-after": "2.5"}) == 2.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= server_delay({"retry-after": date}) <= 31


def test_server_delay_is_used_when_at_most_120_s():
    """A server delay in (0, 120] is slept exactly."""
    assert RetryPolicy().delay(0, {"retry-after": "7"}) == 7.0


def test_server_delay_over_120_s_is_not_retried():
    """A server asking for more than 120 s is not retried at all (SDK v3 rule)."""
    assert RetryPolicy().delay(0, {"retry-after": "121"}) is None


def test_backoff_is_exponential_with_jitter_and_capped():
    """Without a server delay: 0.5 * 2**n capped at 8 s, minus up to 25% jitter."""
    policy = RetryPolicy()
    for retries, nominal in [(0, 0.5), (1, 1.0), (2, 2.0), (6, 8.0), (10, 8.0)]:
        delay = policy.delay(retries, {})
        assert nominal * 0.75 <= delay <= nominal


def test_testing_switch_makes_waits_zero():
    """set_testing(True) keeps retries but removes the waiting."""
    set_testing(True)
    assert RetryPolicy().delay(3, {"retry-after": "5"}) == 0.0


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (500, {}, True),
        (503, {}, True),
        (400, {}, False),
        (404, {}, False),
        (400, {"x-should-retry": "true"}, True),
        (503, {"x-should-retry": "false"}, False),
    ],
)
def test_which_statuses_are_retried(status, headers, expected):
    """408, 409, 429 and 5xx are retried; x-should-retry overrides either way."""
    assert should_retry_status(status, headers) is expected
