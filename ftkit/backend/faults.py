"""Fault injection and request statistics, as pure ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftkit.backend.auth import KeyRing
from ftkit.backend.errors import error_response, rate_limited, server_error
from ftkit.backend.ids import request_id
from ftkit.backend.settings import FaultPlan
from ftkit.errors import APIStatusError

log = logging.getLogger(__name__)

MAX_RECORDED_REQUESTS = 10_000


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    latency_s: float = 0.0
    drop: bool = False
    error: APIStatusError | None = None
    headers: tuple[tuple[str, str], ...] = ()


class FaultInjector:
    """Holds the current `FaultPlan` and decides, request by request, what goes wrong."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self.set(plan)

    def set(self, plan: FaultPlan | None) -> None:
        """Replace the plan (None clears it)."""
        with self._lock:
            self.plan = plan
            self._pattern = re.compile(plan.path_pattern) if plan and plan.path_pattern else None
            self._remaining = plan.count if plan else None
            self._rng = random.Random(plan.seed if plan else None)

    def decide(self, method: str, path: str) -> Decision | None:
        """The faults for one request, or None when it goes through untouched."""
        with self._lock:
            plan = self.plan
            if plan is None or not self._matches(plan, method, path):
                return None
            if self._remaining is not None:
                if self._remaining <= 0:
                    return None
                self._remaining -= 1
            drop = plan.drop_rate > 0 and self._rng.random() < plan.drop_rate
            rate = plan.error_rate if plan.error_rate > 0 or not plan.quota else 1.0
            failed = not drop and rate > 0 and self._rng.random() < rate
        if not failed:
            return Decision(latency_s=plan.latency_s, drop=drop)
        status = 429 if plan.quota else plan.error_status
        error = rate_limited(plan.quota) if status == 429 else server_error(status)
        headers: list[tuple[str, str]] = []
        if status == 429 and not plan.quota:
            if plan.retry_after_s is not None:
                headers.append(("retry-after", f"{plan.retry_after_s:g}"))
            if plan.retry_after_ms is not None:
                headers.append(("retry-after-ms", str(plan.retry_after_ms)))
        if plan.x_should_retry is not None:
            headers.append(("x-should-retry", "true" if plan.x_should_retry else "false"))
        return Decision(latency_s=plan.latency_s, error=error, headers=tuple(headers))

    def _matches(self, plan: FaultPlan, method: str, path: str) -> bool:
        if plan.methods and method.upper() not in {m.upper() for m in plan.methods}:
            return False
        return self._pattern is None or self._pattern.search(path) is not None


class RequestStats:
    """Counts of `/v1` requests per method and route, statuses, and bytes in and out (the admin
    endpoints are not counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded."""
        with self._lock:
            self._requests: list[dict[str, Any]] = []
            self._counts: Counter[str] = Counter()
            self._bytes_in = 0
            self._bytes_out = 0

    def record(
        self, method: str, path: str, route: str, status: int, bytes_in: int, bytes_out: int
    ) -> None:
        """Record one finished (or dropped: status 0) request."""
        with self._lock:
            if len(self._requests) < MAX_RECORDED_REQUESTS:
                self._requests.append(
                    {"method": method, "path": path, "route": route, "status": status}
                )
            self._counts[f"{method} {route}"] += 1
            self._bytes_in += bytes_in
            self._bytes_out += bytes_out

    def snapshot(self) -> dict[str, Any]:
        """JSON-able view: `requests` (first 10,000), `counts` per "METHOD route", byte totals."""
        with self._lock:
            return {
                "requests": list(self._requests),
                "counts": dict(self._counts),
                "total": sum(self._counts.values()),
                "bytes_in": self._bytes_in,
                "bytes_out": self._bytes_out,
            }


class RequestContextMiddleware:
    """Outermost layer: `x-request-id` and OpenAI headers on every response, stats, JSON 500s,
    and the injected faults of `/v1` requests."""

    def __init__(
        self, app: ASGIApp, *, stats: RequestStats, faults: FaultInjector, keys: KeyRing
    ) -> None:
        self.app = app
        self.stats = stats
        self.faults = faults
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        method, path = scope["method"], scope["path"]
        rid = request_id().encode()
        state = {"status": 0, "out": 0, "in": 0, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            state["in"] += len(message.get("body", b""))
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                elapsed_ms = str(int((time.perf_counter() - started_at) * 1000)).encode()
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid),
                    (b"openai-version", b"2020-10-01"),
                    (b"openai-organization", self._org_slug(scope)),
                    (b"openai-processing-ms", elapsed_ms),
                    (b"access-control-expose-headers", b"X-Request-ID"),
                ]
            elif message["type"] == "http.response.body":
                state["out"] += len(message.get("body", b""))
            await send(message)

        try:
            decision = self.faults.decide(method, path) if path.startswith("/v1") else None
            if decision is not None and decision.latency_s:
                await asyncio.sleep(decision.latency_s)
            if decision is not None and decision.drop:
                await _drop_connection(receive)
            elif decision is not None and decision.error is not None:
                response = error_response(decision.error, dict(decision.headers))
                await response(scope, counting_receive, send_with_headers)
            else:
                await self.app(scope, counting_receive, send_with_headers)
        except Exception:
            log.exception("unhandled error in %s %s", method, path)
            if not state["started"]:
                await error_response(server_error())(scope, receive, send_with_headers)
        finally:
            if path.startswith("/v1"):
                template = getattr(scope.get("route"), "path", None) or path
                self.stats.record(
                    method, path, template, int(state["status"]), state["in"], state["out"]
                )

    def _org_slug(self, scope: Scope) -> bytes:
        """The caller's organization slug, or `unknown` for a request without a valid key."""
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        try:
            return self.keys.resolve(authorization).slug.encode()
        except APIStatusError:
            return b"unknown"


async def _drop_connection(receive: Receive) -> None:
    """Close the client's socket without a response (uvicorn: the cycle owns the transport)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        msg = "injected drop: this server cannot close the connection, answering 500 instead"
        raise RuntimeError(msg)
    transport.close()
    # Let the protocol see the closed connection, so the server does not try a 500 on it.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
