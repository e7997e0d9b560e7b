"""Start Prefect's ephemeral API early, so its 4–8 s boot overlaps with ftkit's own start-up.

Without PREFECT_API_URL, Prefect boots a local API server (a uvicorn subprocess over SQLite) at
the first API call. `start_in_background()` triggers that boot from a thread right away; the
caller does its imports and starts the embedded backend meanwhile, then `wait()`s before the
first flow run (the server object is a per-process singleton, so the flow reuses it).
"""

from __future__ import annotations

import os
import threading


class EphemeralAPI:
    """The background boot of the ephemeral API (a no-op when an API URL is configured)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start_in_background(self) -> EphemeralAPI:
        """Begin booting the server unless PREFECT_API_URL points at a running one."""
        if os.environ.get("PREFECT_API_URL"):
            return self
        # import here, not in the thread: concurrent imports of the same modules can deadlock
        from prefect.server.api.server import SubprocessASGIServer  # noqa: F401
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return self
        self._thread = threading.Thread(target=self._boot, name="prefect-ephemeral", daemon=True)
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server is healthy; re-raise a failed boot."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _boot(self) -> None:
        from prefect.server.api.server import SubprocessASGIServer

        try:
            SubprocessASGIServer().start()
        except BaseException as exc:  # surfaced by wait()
            self._error = exc
