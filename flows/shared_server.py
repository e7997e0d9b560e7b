"""One shared local Prefect API server for `ftkit run`s without PREFECT_API_URL.

Prefect's own ephemeral mode boots a server (a uvicorn subprocess over SQLite) inside every
process (3.6 s with an existing database, more on a loaded machine) and leaves it running when
that process is SIGKILLed. Instead, the first `ftkit run` starts this module as a detached
server on a free loopback port; later runs find it through `$PREFECT_HOME/ftkit-server/` and
reuse it at no start-up cost. Each run registers its pid there while it works; the server stops
by itself once no registered process has been alive for `FTKIT_PREFECT_IDLE_S` seconds
(default 300), so a killed run leaves nothing behind for long.

    python -m flows.shared_server      # what `ftkit run` starts (never needed by hand)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftkit.runs.atomic import write_bytes_atomic
from ftkit.runs.file_lock import locked_file
from ftkit.runs.process import process_alive, process_started

IDLE_ENV = "FTKIT_PREFECT_IDLE_S"
START_TIMEOUT_S = 120.0


def state_dir() -> Path:
    """Where the server's address, its clients and its log live (inside PREFECT_HOME)."""
    home = os.environ.get("PREFECT_HOME") or str(Path.home() / ".prefect")
    return Path(home).expanduser().resolve() / "ftkit-server"


class SharedPrefectServer:
    """The shared server as seen by one `ftkit run`: `start()` then `wait()` for its URL."""

    def __init__(self) -> None:
        self.dir = state_dir()
        self.url: str | None = None
        self._client_file = self.dir / "clients" / str(os.getpid())

    def start(self) -> SharedPrefectServer:
        """Register this process as a client and reuse the running server or spawn one (no-op
        when PREFECT_API_URL names a server)."""
        if os.environ.get("PREFECT_API_URL"):
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._client_file.parent.mkdir(exist_ok=True)
            write_bytes_atomic(self._client_file, (process_started(os.getpid()) or "").encode())
            if self._server_info() is None:  # none running, none starting: start one
                log = (self.dir / "server.log").open("ab")
                spawned = subprocess.Popen(
                    [sys.executable, "-m", "flows.shared_server"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,  # its own session: a Ctrl-C of this run spares it
                )
                log.close()
                starting = {"pid": spawned.pid, "started": process_started(spawned.pid)}
                write_bytes_atomic(self.dir / "server.json", json.dumps(starting).encode())
        return self

    def wait(self) -> str:
        """The server's API URL once it answers (raises RuntimeError if it does not start)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            info = self._server_info()
            if info is None:
                msg = f"the local Prefect server exited at start; see {self.dir / 'server.log'}"
                raise RuntimeError(msg)
            if info.get("url") and _healthy(info["url"]):
                self.url = str(info["url"])
                return self.url
            if time.monotonic() > deadline:
                msg = f"the local Prefect server did not start; see {self.dir / 'server.log'}"
                raise RuntimeError(msg)
            time.sleep(0.05)

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Point Prefect at this server for the body, unless its settings name another one."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        if os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value():
            yield
            return
        with temporary_settings(updates={PREFECT_API_URL: self.wait()}):
            yield

    def close(self) -> None:
        """Unregister this process (the server stops once it has been idle long enough)."""
        self._client_file.unlink(missing_ok=True)

    def _server_info(self) -> dict[str, Any] | None:
        """server.json of a live server process (its `url` is missing while it starts)."""
        try:
            info: dict[str, Any] = json.loads((self.dir / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return info if process_alive(info["pid"], info.get("started")) else None

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked_file(self.dir / "lock", fcntl.lockf)


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def live_clients(clients: Path) -> int:
    """Count registered client processes that still run; forget the dead ones."""
    alive = 0
    for entry in clients.glob("*") if clients.is_dir() else []:
        try:
            pid, started = int(entry.name), entry.read_text().strip() or None
        except (OSError, ValueError):
            continue
        if process_alive(pid, started):
            alive += 1
        else:
            entry.unlink(missing_ok=True)
    return alive


def main() -> None:
    """Serve Prefect's API on a free loopback port until idle, then exit."""
    # the same app Prefect's ephemeral mode runs: no UI, ephemeral services
    os.environ.update(
        {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    )
    import uvicorn
    from prefect.server.api.server import create_app

    directory = state_dir()
    idle_s = float(os.environ.get(IDLE_ENV, "300"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    server = uvicorn.Server(
        uvicorn.Config(create_app(final=True), log_level="error", lifespan="on", ws="websockets")
    )

    def stop_when_idle() -> None:
        while not server.started:
            time.sleep(0.05)
        info = {"pid": os.getpid(), "started": process_started(os.getpid()), "url": url}
        write_bytes_atomic(directory / "server.json", json.dumps(info).encode())  # readers poll
        idle_since = time.monotonic()
        while not server.should_exit:
            time.sleep(min(1.0, idle_s / 4))
            if live_clients(directory / "clients"):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_s:
                server.should_exit = True

    threading.Thread(target=stop_when_idle, name="idle-watch", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads((directory / "server.json").read_text())["pid"] == os.getpid():
                (directory / "server.json").unlink()


if __name__ == "__main__":
    main()
