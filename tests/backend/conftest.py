"""Helpers for the backend tests: learnable datasets, an HTTP client, waiting for jobs, real
`ftkit serve` processes (started on a free port, killed with SIGKILL)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

POSITIVE = ("great", "wonderful", "excellent", "loved", "superb")
NEGATIVE = ("awful", "terrible", "boring", "hated", "dreadful")
FILLER = ("the", "movie", "plot", "actors", "film", "story", "ending", "music")
SEPARATOR = "\n\n###\n\n"


def classification_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Binary sentiment examples a bag-of-words model can learn."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["positive", "negative"])
        words = [*rng.sample(FILLER, 4), rng.choice(POSITIVE if label == "positive" else NEGATIVE)]
        rng.shuffle(words)
        rows.append({"prompt": " ".join(words) + SEPARATOR, "completion": f" {label}\n"})
    return rows


def chat_rows(n: int) -> list[dict[str, Any]]:
    """Chat-format examples: answer with the capital of a country."""
    capitals = {"France": "Paris", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo"}
    rows = []
    for i in range(n):
        country = list(capitals)[i % len(capitals)]
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": "You answer with a capital city."},
                    {"role": "user", "content": f"What is the capital of {country}?"},
                    {"role": "assistant", "content": capitals[country]},
                ]
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def api(backend: Any) -> Iterator[httpx.Client]:
    """An httpx client on the fixture backend's /v1."""
    with httpx.Client(base_url=backend.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def shared_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One backend for a whole module, for tests that only read (base models, errors)."""
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend

    data_dir = tmp_path_factory.mktemp("shared") / "backend"
    with started_backend(BackendSettings(data_dir=data_dir)) as handle:
        yield handle


@pytest.fixture(scope="module")
def shared_api(shared_backend: Any) -> Iterator[httpx.Client]:
    """An httpx client on the module's shared backend."""
    with httpx.Client(base_url=shared_backend.url, timeout=30) as client:
        yield client


@pytest.fixture
def model(api: httpx.Client, train_file: Path) -> Iterator[str]:
    """A legacy fine-tuned sentiment model."""
    job = api.post(
        "/fine-tunes", json={"training_file": upload(api, train_file)["id"], "model": "ada"}
    ).json()
    yield wait_for(api, f"/fine-tunes/{job['id']}", DONE)["fine_tuned_model"]


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    """60 learnable classification examples."""
    return write_jsonl(tmp_path / "train.jsonl", classification_rows(60, seed=1))


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    """30 held-out classification examples."""
    return write_jsonl(tmp_path / "valid.jsonl", classification_rows(30, seed=2))


def upload(api: httpx.Client, path: Path, purpose: str = "fine-tune") -> dict[str, Any]:
    """Upload a file and return the File object (fails the test on an error status)."""
    response = api.post(
        "/files", files={"file": (path.name, path.read_bytes())}, data={"purpose": purpose}
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(
    api: httpx.Client, path: str, statuses: tuple[str, ...], timeout: float = 30
) -> dict[str, Any]:
    """Poll a job until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(path).json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"{path} stuck in {job['status']}"
        time.sleep(0.05)


DONE = ("succeeded", "failed", "cancelled")


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    """The command line of `ftkit serve ARGS` run by this Python."""
    return [sys.executable, "-c", "from ftkit.cli import main; main()", "serve", *args]


def metrics_steps(api: httpx.Client, job_id: str) -> list[int]:
    """Steps of the job's metrics events."""
    events = api.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}).json()["data"]
    return [e["data"]["step"] for e in events if e["type"] == "metrics"]


def wait_until(predicate: Any, timeout: float = 30) -> None:
    """Poll `predicate` until true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start_serve(
    data_dir: Path, *args: str, stderr: Any = subprocess.DEVNULL
) -> tuple[subprocess.Popen[bytes], str]:
    """A real `ftkit serve ARGS` process on `data_dir` and a free loopback port, once it
    answers, and its root URL (the caller kills it)."""
    port = free_port()
    server = subprocess.Popen(
        serve_command("--port", str(port), "--data-dir", str(data_dir), *args),
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stderr=stderr,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=root + "/v1", timeout=30) as api:
            wait_until(lambda: _answers(api), timeout=60)
    except BaseException:
        server.kill()
        raise
    return server, root


def kill_9(server: subprocess.Popen[bytes]) -> None:
    """SIGKILL a server mid-work; its training workers must exit on their own."""
    workers = _descendants(server.pid)
    assert workers
    server.send_signal(signal.SIGKILL)
    server.wait(5)
    wait_until(lambda: not any(_alive(pid) for pid in workers), timeout=10)


def _answers(api: httpx.Client) -> bool:
    try:
        return api.get("/models").status_code == 200
    except httpx.TransportError:
        return False


def _descendants(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
