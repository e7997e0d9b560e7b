"""Drift tests: the README, CI, the CLI and the package boundaries stay true to each other."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from ftkit.cli import app

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The indented shell commands of the README's set-up section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^    (python3 -m venv .+)$", text, flags=re.MULTILINE)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run contains the README's test command verbatim."""
    commands = readme_commands()
    assert len(commands) >= 2, "README must show the main-job command and the test command"
    test_command = next(c for c in commands if c.rstrip().endswith("pytest"))
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_main_command_runs_the_quickstart() -> None:
    """The first README command runs the quickstart config, which exists."""
    main = readme_commands()[0]
    config = re.search(r"ftkit run (\S+)", main)
    assert config is not None
    assert (ROOT / config.group(1)).is_file()


def test_library_never_imports_prefect() -> None:
    """ftkit/ is plain library code; only flows/ may import prefect."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "ftkit").rglob("*.py")
        if re.search(r"^\s*(from|import) prefect\b", path.read_text(encoding="utf-8"), re.M)
        and "cli" not in path.parts
    ]
    assert offenders == []


def test_cli_help_is_fast_and_imports_no_heavy_modules() -> None:
    """`ftkit --help` does not pull in prefect, sklearn or the server stack."""
    code = (
        "import sys; from ftkit.cli import app; "
        "heavy = [m for m in ('prefect', 'sklearn', 'fastapi', 'uvicorn', 'matplotlib') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_command_has_help_text_and_an_example() -> None:
    """Each leaf command explains itself and shows an example invocation."""
    missing = []

    def walk(command: Any, path: str) -> None:
        if hasattr(command, "commands"):  # a group (typer bundles its own click)
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
            return
        help_text = command.help or ""
        if not help_text.strip() or "ftkit" not in help_text:
            missing.append(path)

    walk(typer.main.get_command(app), "ftkit")
    assert missing == []
