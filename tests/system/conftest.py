"""ftkit as a system: real `prefect server start` processes (SQLite or PostgreSQL), real
`prefect worker` processes on a process pool, the embedded backend on loopback.

Every process gets a free port, its own PREFECT_HOME under the test's tmp dir, and is stopped
by its PID (its process group) at the end.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pytest

from ftkit.config import load_config
from ftkit.runs import RunFolder, run_id, run_key

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
QUICKSTART = ROOT / "configs" / "quickstart.yaml"

T = TypeVar("T")

# Short service loops: the scheduler looks at new deployments every second and keeps only a few
# runs ahead; workers and runners poll every second.
FAST_PREFECT = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
    "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "2",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "3",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "0:00:30",
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    check: Callable[[], T | None], timeout_s: float, what: str, step_s: float = 0.5
) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s: {what}"
        time.sleep(step_s)


@contextmanager
def started(
    args: list[str], env: dict[str, str], log: Path, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session (output to `log`); stopped with its group on exit."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace_s: float = 20) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after `grace_s`."""
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError, FileNotFoundError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, FileNotFoundError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (as a machine that dies would lose them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(ProcessLookupError, FileNotFoundError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    doomed, todo = [], [pid]
    while todo:
        current = todo.pop()
        doomed.append(current)
        todo.extend(children.get(current, []))
    for victim in doomed:
        with suppress(ProcessLookupError, FileNotFoundError):
            os.kill(victim, signal.SIGKILL)


@dataclass
class PrefectServer:
    """A running `prefect server start`: its API URL and the environment that talks to it."""

    url: str
    env: dict[str, str]
    home: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, coroutine_fn: Callable[..., Any], *args: Any) -> Any:
        """Run `coroutine_fn(client, *args)` with a Prefect client of this server."""
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        async def with_client() -> Any:
            with temporary_settings({PREFECT_API_URL: self.url}):
                async with get_client() as client:
                    return await coroutine_fn(client, *args)

        return asyncio.run(with_client())

    def deployment(self, name: str) -> Any:
        """The deployment `flow/name`."""
        return self.run(lambda client: client.read_deployment_by_name(name))

    def flow_run(self, flow_run_id: UUID) -> Any:
        """One flow run, as the server has it now."""
        return self.run(lambda client: client.read_flow_run(flow_run_id))

    def flow_runs(self, deployment_id: UUID) -> list[Any]:
        """Every flow run of a deployment, oldest first."""
        return list(self.run(flow_runs_of, deployment_id))

    def ftkit(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run an `ftkit` command against this server; fails the test if it fails."""
        done = subprocess.run(
            [str(BIN / "ftkit"), *args], env=self.env, cwd=cwd, capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    @contextmanager
    def worker(
        self, pool: str, name: str, cwd: Path, *, limit: int | None = None, **env: str
    ) -> Iterator[subprocess.Popen[bytes]]:
        """`prefect worker start --pool POOL` as its own process, output in cwd/<name>.log."""
        args = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name]
        if limit is not None:
            args += ["--limit", str(limit)]
        with started(args, {**self.env, **env}, cwd / f"{name}.log", cwd) as process:
            yield process


@contextmanager
def prefect_server(home: Path, database_url: str | None = None) -> Iterator[PrefectServer]:
    """`prefect server start` on a free port with its own PREFECT_HOME (and database)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **FAST_PREFECT, "PREFECT_HOME": str(home), "PREFECT_API_URL": url}
    server_env = dict(env)
    if database_url:
        server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with started(args, server_env, home / "server.log", home) as process:

        def healthy() -> bool:
            assert process.poll() is None, (home / "server.log").read_text()[-3000:]
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 240, "the Prefect server to answer /api/health")
        yield PrefectServer(url=url, env=env, home=home)


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (initdb, pg_ctl), if installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its asyncpg URL.

    It lives in a fresh folder under /tmp that the server user can reach; root may not run
    PostgreSQL, so as root the cluster runs as the `postgres` user."""
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="ftkit-pg-"))
    as_user: list[str] = []
    user = getpass.getuser()
    if os.geteuid() == 0:
        as_user, user = ["runuser", "-u", "postgres", "--"], "postgres"
        shutil.chown(folder, "postgres")

    def pg(tool: str, *args: str) -> None:
        subprocess.run([*as_user, str(binaries / tool), *args], check=True, capture_output=True)

    data, port = folder / "data", free_port()
    pg("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "pg.log"), "-w", "start")
    try:
        yield f"postgresql+asyncpg://{user}@127.0.0.1:{port}/postgres"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def executed_by(worker_log: Path, flow_run_id: Any) -> bool:
    """Whether the worker whose output is `worker_log` ran the flow run (workers that race for
    a run all log that they submit it; the losers then log that their submission was aborted)."""
    text = worker_log.read_text() if worker_log.is_file() else ""
    aborted = f"Aborted submission of flow run '{flow_run_id}'"
    return str(flow_run_id) in text and aborted not in text


def run_folder(overrides: list[str]) -> RunFolder:
    """The run folder of the quickstart config with these overrides."""
    config = load_config(QUICKSTART, overrides)
    return RunFolder(config.runs_dir / config.name / run_id(run_key(config)))


def training_started(folder: RunFolder) -> bool:
    """Whether the run's job has reported a training step."""
    events = folder.events.events_path
    return events.is_file() and b"Step " in events.read_bytes()


async def flow_runs_of(client: Any, deployment_id: UUID) -> list[Any]:
    """Every flow run of a deployment, oldest first."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    return list(
        await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        )
    )
