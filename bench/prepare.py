"""Benchmark: `ftkit prepare` against the legacy `openai tools fine_tunes.prepare_data -q`.

Generates synthetic binary-classification JSONL (10 MB and 100 MB; 1 GB with --gigabyte, ftkit
only), creates bench/.venv-openai028 with openai==0.28.1 + pandas on first use, runs both tools
as subprocesses on the same file in the same run and prints wall time, peak memory (ru_maxrss of
the child, via os.wait4) and the ratios. Modes: with exact token counts, and without.

    .venv/bin/python bench/prepare.py [--sizes 10,100] [--gigabyte] [--skip-peer] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
PEER_VENV = ROOT / ".venv-openai028"
FTKIT = Path(sys.executable).with_name("ftkit")

_WORDS = [
    "the",
    "film",
    "story",
    "acting",
    "plot",
    "music",
    "scene",
    "director",
    "cast",
    "camera",
    "ending",
    "character",
    "dialogue",
    "script",
    "pacing",
    "moment",
    "performance",
    "screen",
    "audience",
    "drama",
    "comedy",
    "thriller",
    "sequel",
    "visual",
    "effects",
    "soundtrack",
    "was",
    "is",
    "felt",
    "seemed",
    "really",
    "quite",
    "very",
    "rather",
    "truly",
    "somewhat",
]
_GOOD = [
    "great",
    "wonderful",
    "moving",
    "brilliant",
    "superb",
    "delightful",
    "charming",
    "gripping",
]
_BAD = ["dull", "boring", "clumsy", "awful", "tedious", "weak", "bland", "predictable"]


def generate(path: Path, megabytes: int, seed: int = 7) -> Path:
    """Binary sentiment examples (~600-byte prompts) until the file has `megabytes` MB."""
    if path.exists() and path.stat().st_size >= megabytes << 20:
        return path
    rng = random.Random(seed)
    target = megabytes << 20
    size = 0
    import json

    with path.open("w", encoding="utf-8") as file:
        while size < target:
            positive = rng.random() < 0.5
            words = rng.choices(_WORDS, k=rng.randint(60, 140))
            for _ in range(3):
                words.insert(rng.randrange(len(words)), rng.choice(_GOOD if positive else _BAD))
            prompt = " ".join(words).capitalize() + ".\n\n###\n\n"
            line = json.dumps(
                {"prompt": prompt, "completion": " positive" if positive else " negative"}
            )
            file.write(line + "\n")
            size += len(line) + 1
    return path


def ensure_peer() -> Path:
    """The peer's venv (created once): openai==0.28.1 and pandas from PyPI."""
    openai = PEER_VENV / "bin" / "openai"
    if not openai.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(PEER_VENV / "bin" / "pip"), "install", "-q", "openai==0.28.1", "pandas"]
        subprocess.run(pip, check=True)
    return openai


def measure(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak resident MB) of a child process and its workers.

    Peak memory is ru_maxrss from os.wait4: the largest single process (the main one or a
    worker), not the sum over processes.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        error = process.stderr.read().decode(errors="replace")[-500:] if process.stderr else ""
        print(f"  ! {' '.join(command[:3])} exited {process.returncode}: {error}")
    if process.stderr:
        process.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_peer(openai: Path, data: Path) -> tuple[float, float, float]:
    """The legacy tool on a copy of the file in a temp dir (it writes beside its input)."""
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        copy = Path(tmp) / data.name
        shutil.copyfile(data, copy)
        return measure(
            [str(openai), "tools", "fine_tunes.prepare_data", "-f", str(copy), "-q"], Path(tmp)
        )


def run_ftkit(data: Path, tokens: bool) -> tuple[float, float, float]:
    """`ftkit prepare` on the file, writing to a temp dir."""
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        command = [str(FTKIT), "prepare", str(data), "--out", tmp, "--format", "json"]
        if not tokens:
            command.append("--no-tokens")
        return measure(command, Path(tmp))


def median(
    runs: int, measure_once: Callable[[], tuple[float, float, float]]
) -> tuple[float, float, float]:
    """The run with the median wall time out of `runs` (its CPU and peak memory with it)."""
    figures = sorted((measure_once() for _ in range(max(1, runs))), key=lambda f: f[0])
    return figures[len(figures) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,100", help="MB sizes compared with the peer.")
    parser.add_argument("--gigabyte", action="store_true", help="Also run ftkit on a 1 GB file.")
    parser.add_argument("--skip-peer", action="store_true", help="Only run ftkit.")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs of each tool per file; the median is shown."
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    openai = None if args.skip_peer else ensure_peer()
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}: wall times are noisy")
    print("when other work shares the machine; CPU seconds (user+sys, workers included) less so.")
    print(
        f"{'file':>7} {'tool':<21} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}"
        f"   {'faster (wall)':>13} {'(cpu)':>6} {'memory':>7}"
    )
    for megabytes in [int(size) for size in args.sizes.split(",") if size]:
        data = generate(OUT / f"classification-{megabytes}mb.jsonl", megabytes)
        peer = median(args.repeat, partial(run_peer, openai, data)) if openai else None
        if peer:
            _row(f"{megabytes}MB", "openai 0.28.1 -q", peer, None)
        for tokens in (True, False):
            name = "ftkit (exact tokens)" if tokens else "ftkit (--no-tokens)"
            _row(
                f"{megabytes}MB", name, median(args.repeat, partial(run_ftkit, data, tokens)), peer
            )
    if args.gigabyte:
        data = generate(OUT / "classification-1024mb.jsonl", 1024)
        for tokens in (True, False):
            name = "ftkit (exact tokens)" if tokens else "ftkit (--no-tokens)"
            figures = run_ftkit(data, tokens)
            _row("1024MB", name, figures, None)
            print(f"{'':>7} peak memory < 300 MB: {'yes' if figures[2] < 300 else 'NO'}")
    print("targets: exact tokens ≥ 4× faster, --no-tokens ≥ 20× faster, memory ≤ 0.125 of the peer")


def _row(
    size: str,
    name: str,
    figures: tuple[float, float, float],
    peer: tuple[float, float, float] | None,
) -> None:
    wall, cpu, peak = figures
    line = f"{size:>7} {name:<21} {wall:>7.2f} {cpu:>7.2f} {peak:>8.0f}"
    if peer:
        line += f"   {peer[0] / wall:>12.1f}× {peer[1] / cpu:>5.1f}× {peak / peer[2]:>7.3f}"
    print(line)


if __name__ == "__main__":
    main()
