"""Benchmark: `ftkit prepare` against the legacy `openai tools fine_tunes.prepare_data -q`.

Generates synthetic binary-classification JSONL (10 MB and 100 MB; 1 GB with --gigabyte, ftkit
only), creates bench/.venv-openai028 with openai==0.28.1 + pandas on first use, runs both tools
as subprocesses on the same file in the same run and prints wall time, peak memory (ru_maxrss of
the child, via os.wait4) and the ratios. Modes: with exact token counts, and without.

    .venv/bin/python bench/prepare.py [--sizes 10,100] [--gigabyte] [--skip-peer]
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


def measure(command: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak resident MB, exit status) of a child process."""
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
    return wall, usage.ru_maxrss / 1024, process.returncode


def run_peer(openai: Path, data: Path) -> tuple[float, float, int]:
    """The legacy tool on a copy of the file in a temp dir (it writes beside its input)."""
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        copy = Path(tmp) / data.name
        shutil.copyfile(data, copy)
        return measure(
            [str(openai), "tools", "fine_tunes.prepare_data", "-f", str(copy), "-q"], Path(tmp)
        )


def run_ftkit(data: Path, tokens: bool) -> tuple[float, float, int]:
    """`ftkit prepare` on the file, writing to a temp dir."""
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        command = [str(FTKIT), "prepare", str(data), "--out", tmp, "--format", "json"]
        if not tokens:
            command.append("--no-tokens")
        return measure(command, Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,100", help="MB sizes compared with the peer.")
    parser.add_argument("--gigabyte", action="store_true", help="Also run ftkit on a 1 GB file.")
    parser.add_argument("--skip-peer", action="store_true", help="Only run ftkit.")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    openai = None if args.skip_peer else ensure_peer()
    print(f"cores: {os.cpu_count()}; figures are noisy when other work shares the machine")
    header = (
        f"{'file':>8} {'tool':<22} {'wall s':>8} {'peak MB':>8}   {'speed-up':>8} {'memory':>8}"
    )
    print(header)
    for megabytes in [int(size) for size in args.sizes.split(",") if size]:
        data = generate(OUT / f"classification-{megabytes}mb.jsonl", megabytes)
        peer = run_peer(openai, data) if openai else None
        if peer:
            print(f"{megabytes:>6}MB {'openai 0.28.1 -q':<22} {peer[0]:>8.2f} {peer[1]:>8.0f}")
        for tokens in (True, False):
            name = "ftkit (exact tokens)" if tokens else "ftkit (--no-tokens)"
            wall, peak, _ = run_ftkit(data, tokens)
            ratios = ""
            if peer:
                ratios = f"   {peer[0] / wall:>7.1f}× {peak / peer[1]:>8.3f}"
            print(f"{megabytes:>6}MB {name:<22} {wall:>8.2f} {peak:>8.0f}{ratios}")
    if args.gigabyte:
        data = generate(OUT / "classification-1024mb.jsonl", 1024)
        for tokens in (True, False):
            name = "ftkit (exact tokens)" if tokens else "ftkit (--no-tokens)"
            wall, peak, _ = run_ftkit(data, tokens)
            verdict = "ok" if peak < 300 else "OVER 300 MB"
            print(f"{1024:>6}MB {name:<22} {wall:>8.2f} {peak:>8.0f}   peak < 300 MB: {verdict}")
    print("targets: exact tokens ≥ 4× faster, --no-tokens ≥ 20× faster, memory ≤ 0.125 of the peer")


if __name__ == "__main__":
    main()
