"""Local servers for tests and scripts: a throwaway `prefect server start` (UI included) on a
free loopback port with its own home, and `ftkit reports serve` over a runs folder.

The Prefect server is for what the ephemeral API and the test harness lack: the UI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ftkit.processes import stop_process


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def prefect_server(startup_timeout_s: float = 600.0) -> Iterator[str]:
    """Start the server, wait until it is healthy, yield its API URL; stop it on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = tempfile.mkdtemp(prefix="ftkit-prefect-server-")
    env = {**os.environ, "PREFECT_HOME": home, "PREFECT_UI_API_URL": url, "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    log = (Path(home) / "server.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--analytics-off"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (Path(home) / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"prefect server on port {port} did not start:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(server, timeout_s=30)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def reports_server(runs_dir: Path) -> Iterator[str]:
    """`ftkit reports serve` over `runs_dir` on a free port; yields its base URL."""
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "ftkit"), "reports", "serve",
         "--runs-dir", str(runs_dir), "--port", "0"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        for line in server.stderr:  # serving … read-only at http://127.0.0.1:PORT/
            if " read-only at " in line:
                yield line.rsplit(" at ", 1)[1].strip().rstrip("/")
                break
        else:
            raise RuntimeError("ftkit reports serve did not start")
    finally:
        stop_process(server)
