"""Finding ftkit's folders from any directory: the per-user data folder and the runs folder.

`ftkit runs list` run from another directory should still find the runs `ftkit run` wrote, so
the runs folder comes from, in order: `--runs-dir` (or `FTKIT_RUNS_DIR`), the `runs_dir` of a
given config, `./runs` when it holds runs, and last the runs folder `ftkit run` used most
recently (remembered in the per-user data folder).
"""

from __future__ import annotations

import os
from pathlib import Path

from ftkit.runs.atomic import write_bytes_atomic

RUNS_DIR_ENV = "FTKIT_RUNS_DIR"
_LAST_RUNS_DIR = "last-runs-dir"


def user_data_dir() -> Path:
    """ftkit's per-user data folder: `$XDG_DATA_HOME/ftkit`, by default ~/.local/share/ftkit."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser().resolve() / "ftkit"


def remember_runs_dir(runs_dir: Path) -> None:
    """Note the runs folder a run used, for commands run later from elsewhere."""
    write_bytes_atomic(user_data_dir() / _LAST_RUNS_DIR, str(runs_dir.resolve()).encode())


def locate_runs_dir(given: Path | None = None, config: Path | None = None) -> Path:
    """The runs folder a command means (see the module docstring for the order)."""
    if given is None and os.environ.get(RUNS_DIR_ENV):
        given = Path(os.environ[RUNS_DIR_ENV])
    if given is not None:
        return given.expanduser().resolve()
    if config is not None:
        from ftkit.config import load_config

        return load_config(config).runs_dir.resolve()
    here = Path("runs")
    if (here / "index.jsonl").is_file():
        return here.resolve()
    last = user_data_dir() / _LAST_RUNS_DIR
    if last.is_file():
        remembered = Path(last.read_text(encoding="utf-8").strip())
        if (remembered / "index.jsonl").is_file():
            return remembered
    return here.resolve()
