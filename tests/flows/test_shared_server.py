"""The shared local Prefect server: runs without PREFECT_API_URL share one, and it does not
outlive them: SIGKILLed runs leave it running only until it has been idle for a while."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftkit.runs.process import process_alive

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
FTKIT = Path(sys.executable).parent / "ftkit"


def wait_for(condition, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def servers_of(home: Path) -> list[int]:
    """Pids of local Prefect servers started for this PREFECT_HOME (from /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"flows.shared_server" in cmdline and f"PREFECT_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def training_started(runs: Path) -> bool:
    return any(b"Step " in path.read_bytes() for path in runs.glob("*/*/events.jsonl"))


@pytest.mark.slow
def test_concurrent_runs_share_one_server_which_stops_once_they_are_killed(
    tmp_path: Path,
) -> None:
    home = tmp_path / "prefect"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "FTKIT_PREFECT_IDLE_S": "2",
        "FTKIT_BACKEND_STEP_SECONDS": "0.02",
    }
    env.pop("PREFECT_API_URL", None)
    runs = []
    for seed in (1, 2):
        args = [
            str(FTKIT), "run", str(QUICKSTART), f"runs_dir={tmp_path / f'runs-{seed}'}",
            f"job.seed={seed}", "job.hyperparameters.n_epochs=1", "evaluate.enabled=false",
        ]  # fmt: skip
        runs.append(
            subprocess.Popen(
                args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path
            )
        )
    try:
        for seed in (1, 2):
            wait_for(lambda seed=seed: training_started(tmp_path / f"runs-{seed}"), 180)
        clients = sorted(p.name for p in (home / "ftkit-server" / "clients").iterdir())
        assert clients == sorted(str(run.pid) for run in runs)
        server = json.loads((home / "ftkit-server" / "server.json").read_text())
        assert process_alive(server["pid"])
        assert servers_of(home) == [server["pid"]]  # the second run reused the first's
    finally:
        for run in runs:
            run.send_signal(signal.SIGKILL)  # no clean-up of any kind
            run.wait()
    wait_for(lambda: not servers_of(home), 60)
    assert not (home / "ftkit-server" / "server.json").exists()
