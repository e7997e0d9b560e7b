"""The `ftkit` console script leaves through `exit_now`: everything an exit does that has effects
still happens (threads joined, atexit handlers, buffered output), only the heap teardown is
skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.parametrize(("code", "status"), [("None", 0), ("3", 3), ("'bad input'", 1)])
def test_exit_now_keeps_the_status_the_output_the_threads_and_the_atexit_handlers(
    code: str, status: int
) -> None:
    script = textwrap.dedent(f"""
        import atexit, sys, threading, time
        from ftkit.cli._exit import exit_now

        def slow_worker():
            time.sleep(0.3)
            print("worker finished")

        threading.Thread(target=slow_worker).start()  # not a daemon: an exit waits for it
        atexit.register(lambda: print("atexit ran"))
        sys.stdout.write("buffered, no newline")
        exit_now({code})
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == status
    assert done.stdout == "buffered, no newlineworker finished\natexit ran\n"
    assert done.stderr == ("bad input\n" if status == 1 else "")
