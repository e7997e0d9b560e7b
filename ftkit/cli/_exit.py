"""Leave the process without tearing down the interpreter's heap.

A finished `ftkit run` has imported Prefect, FastAPI, NumPy and scikit-learn; CPython's own
finalisation then frees every module and object one by one, about 1-2 s of a run's wall time on
2 cores, and nothing in it matters for the outcome. This exit does everything a normal exit
does that has effects (non-daemon threads joined, Prefect's log and event workers drained,
atexit handlers run, stdout/stderr flushed) and then ends the process with `os._exit`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading


def exit_now(code: object) -> None:
    """Exit with `code` (a SystemExit code: None, int or message) after everything is flushed."""
    # what Py_FinalizeEx does first: join non-daemon threads and run threading's exit hooks
    # (Prefect's queue services drain their pending log lines and events there)
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
