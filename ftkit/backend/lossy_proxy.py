"""A loopback HTTP proxy that loses answers AFTER the server acted (for chaos tests and benches).

The backend's own fault injection fails a request before it is handled; a lost answer is the
harder case: the upload or the job exists, only the client never heard. The proxy forwards
every request to `target`, and for the requests a rule picks it waits for the server's full
answer, then closes the client's connection without a byte of it.

    with lossy_proxy(backend_url, LoseAnswers(r"POST /v1/fine_tuning/jobs$", every=2)) as url:
        ...  # use url (ends in /v1) instead of backend_url
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from starlette.types import Receive, Scope, Send

from ftkit.backend.server import running_app

_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host"}


@dataclass
class LoseAnswers:
    """Lose the answer to every `every`-th request matching `pattern` ("METHOD /path" regex),
    at most `limit` times; `lost` counts what was lost."""

    pattern: str
    every: int = 1
    limit: int | None = None
    seen: int = 0
    lost: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def picks(self, method: str, path: str) -> bool:
        """Whether to lose the answer to this request (counts it)."""
        if not re.search(self.pattern, f"{method} {path}"):
            return False
        with self._lock:
            self.seen += 1
            if self.seen % self.every or (self.limit is not None and self.lost >= self.limit):
                return False
            self.lost += 1
            return True


class _Proxy:
    def __init__(self, target: str, rules: list[LoseAnswers]) -> None:
        root = httpx.URL(target)
        self.origin = f"{root.scheme}://{root.netloc.decode()}"
        self.rules = rules
        self.http = httpx.AsyncClient(timeout=None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        url = f"{self.origin}{path}" + (f"?{query}" if query else "")
        try:
            answer = await self.http.request(method, url, headers=headers, content=body)
        except httpx.TransportError:  # the server dropped the connection: so does the proxy
            await _close_connection(receive)
            return
        if any(rule.picks(method, path) for rule in self.rules):
            await _close_connection(receive)
            return
        out = [(k, v) for k, v in answer.headers.raw if k.lower() not in _HOP_BY_HOP]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})


async def _close_connection(receive: Receive) -> None:
    """Close the client's socket without an answer (uvicorn: the cycle owns the transport)."""
    transport = receive.__self__.transport  # type: ignore[attr-defined]
    transport.close()
    await asyncio.sleep(0)  # let the protocol see the close, so no 500 is tried on it
    await asyncio.sleep(0)


@contextlib.contextmanager
def lossy_proxy(target: str, *rules: LoseAnswers) -> Iterator[str]:
    """Run the proxy on a free loopback port; yields its base URL (same path as `target`)."""
    with running_app(_Proxy(target, list(rules))) as port:
        yield f"http://127.0.0.1:{port}{httpx.URL(target).path}"
