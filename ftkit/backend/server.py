"""Running the backend: in a background thread on a free loopback port, or in the foreground."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from ftkit.backend.app import create_app
from ftkit.backend.settings import BackendSettings

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


def _config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=1,
    )


def serve(settings: BackendSettings) -> None:
    """Serve in the foreground until interrupted (`ftkit serve`)."""
    config = _config(create_app(settings))
    config.host, config.port = settings.host, settings.port
    uvicorn.Server(config).run()


@contextlib.contextmanager
def running_backend(settings: BackendSettings) -> Iterator[str]:
    """Start the backend in a thread; yields its base URL `http://127.0.0.1:<port>/v1`.

    `settings.port` 0 picks a free port. On exit the server stops within a few seconds; jobs
    still training resume when a server is next started on the same data directory.
    """
    with running_app(create_app(settings), settings.host, settings.port) as port:
        yield f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def running_app(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve an ASGI app in a thread (port 0 = a free one); yields the port it listens on."""
    # proto IPPROTO_TCP (not 0) lets asyncio set TCP_NODELAY on accepted connections; without
    # it Nagle + delayed ACKs add ~40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ftkit-backend", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            msg = f"the ftkit backend did not start on port {port} (see the log above)"
            raise RuntimeError(msg)
        time.sleep(0.005)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT_S)
        sock.close()
