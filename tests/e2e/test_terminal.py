"""What a person sees running `ftkit run` in a terminal: one live progress display, no log line
per event; in a pipe, plain lines. Each run is a real `ftkit run` process (quickstart, 1 epoch)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

FTKIT = str(Path(sys.executable).with_name("ftkit"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")


def ftkit_run(args: list[str], prefect_api: str, *, tty: bool) -> tuple[int, str, str]:
    """Run `ftkit run ARGS` with stdout/stderr on a pseudo-terminal or on pipes."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "COLUMNS": "120", "TERM": "xterm"}
    command = [FTKIT, "run", *args, "job.hyperparameters.n_epochs=1", "evaluate.baseline=null"]
    if not tty:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, env=env, stdin=follower, stdout=follower, stderr=follower, close_fds=True
    )
    os.close(follower)
    screen = bytearray()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    code = process.wait(timeout=30)
    return code, screen.decode("utf-8", "replace"), ""


@pytest.mark.slow
def test_a_terminal_gets_one_live_progress_display(
    quickstart_args: list[str], prefect_api: str
) -> None:
    """Phase, step/total, loss and ETA redrawn in place; no Prefect lines, no per-step lines."""
    code, screen, _ = ftkit_run(quickstart_args, prefect_api, tty=True)
    text = ANSI.sub("", screen)
    assert code == 0, text[-2000:]
    assert re.search(r"support-tickets/\w+ +follow .* \d+/\d+ loss \d\.\d+ ETA", text), text
    assert re.search(r"done .* (\d+)/\1 loss \d\.\d+ ETA", text), text[-2000:]
    assert "Step 1/" not in text and "| INFO" not in text  # Prefect's console stays quiet
    assert "report   " in text


@pytest.mark.slow
def test_a_pipe_gets_plain_lines_on_stderr(quickstart_args: list[str], prefect_api: str) -> None:
    """Not a terminal: a line per phase and per tenth of training, outcome on stdout."""
    code, out, err = ftkit_run(quickstart_args, prefect_api, tty=False)
    assert code == 0, err[-2000:]
    lines = err.splitlines()
    assert any(re.fullmatch(r"support-tickets/\w+: prepare", line) for line in lines), err
    steps = [line for line in lines if re.search(r": \w+ step \d+/\d+ loss=", line)]
    assert 1 <= len(steps) <= 20, err  # per phase and per tenth, not per event (timing-bound)
    assert re.search(r": done step (\d+)/\1 loss=", lines[-1]), err
    assert "\x1b[" not in err and "| INFO" not in err
    assert out.startswith("run      ")
