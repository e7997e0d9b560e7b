"""Benchmark: the pipeline under chaos vs a clean run, audited from the backend's own records.

    .venv/bin/python bench/chaos.py [--runs 3]

Rounds of `--runs` quickstart runs (one epoch, no evaluation) at once, each run a new seed,
through a proxy in front of the embedded backend:
  warm-up no faults; pays the first-run costs, not compared
  clean   no faults (the peer)
  429     ~20 % of requests answered 429 (Retry-After 20 ms), ~10 % dropped; the proxy loses every
          second answer to an upload or a job creation after the server acted
  5xx     the same with 503s and 50 ms of latency on every request
Printed per round: runs, faults injected (backend 429/5xx/drops + answers the proxy lost),
duplicate jobs and files, lost and repeated events (all must be 0), wall time and the slowdown
against the clean round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
ROUNDS: dict[str, dict[str, Any]] = {
    "warm-up": {},  # first-run costs (imports, worker start-up); not the baseline
    "clean": {},
    "429": {"error_rate": 0.2, "error_status": 429, "retry_after_ms": 20, "drop_rate": 0.1},
    "5xx": {"error_rate": 0.2, "error_status": 503, "drop_rate": 0.1, "latency_s": 0.05},
}


def main() -> None:
    """Run the rounds and print the audit of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Runs per round (at once).")
    runs = parser.parse_args().runs
    home = Path(tempfile.mkdtemp(prefix="ftkit-chaos-"))
    os.environ.update(
        {
            "PREFECT_HOME": str(home / "prefect"),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "ERROR",
            "FTKIT_PREFECT_IDLE_S": "5",
        }
    )
    os.environ.pop("PREFECT_API_URL", None)
    from flows.shared_server import SharedPrefectServer

    prefect_api = SharedPrefectServer().start()
    from flows.pipeline import fine_tune_pipeline
    from ftkit.api import Client
    from ftkit.backend.chaos import audit, faults_seen
    from ftkit.backend.lossy_proxy import LoseAnswers, lossy_proxy
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend
    from ftkit.config import load_config
    from ftkit.runs import RunFolder

    print(f"chaos: {runs} quickstart runs per round at once, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    header = f"{'round':<7}{'runs':>5}{'faults':>8}{'lost ans':>9}{'dup jobs':>9}{'dup files':>10}"
    print(header + f"{'lost ev':>8}{'rep ev':>7}{'failed':>7}{'wall s':>8}{'slowdown':>9}")
    settings = BackendSettings(data_dir=home / "backend")
    seed = 0
    clean_wall = None
    with prefect_api.in_use(), started_backend(settings) as backend:
        for name, plan in ROUNDS.items():
            backend.reset_stats()
            if plan:
                backend.set_faults(seed=len(name), **plan)
            loses = LoseAnswers(r"^POST /v1/(files|fine_tuning/jobs)$", every=2)
            with lossy_proxy(backend.url, *([loses] if plan else [])) as url:
                configs = []
                for _ in range(runs):
                    seed += 1
                    overrides = [
                        f"runs_dir={home / 'runs'}", f"provider.base_url={url}",
                        f"job.seed={seed}", "job.hyperparameters.n_epochs=1",
                        "evaluate.enabled=false", "provider.max_retries=8",
                    ]  # fmt: skip
                    configs.append(load_config(QUICKSTART, overrides))

                async def all_runs(configs: list[Any] = configs) -> list[Any]:
                    return list(
                        await asyncio.gather(
                            *(fine_tune_pipeline(c, return_state=True) for c in configs)
                        )
                    )

                started = time.perf_counter()
                states = asyncio.run(all_runs())
                wall = time.perf_counter() - started
            faults = faults_seen(backend.stats())
            backend.clear_faults()
            with Client(base_url=backend.url) as client:
                found = audit(client, [RunFolder.for_config(c).path for c in configs])
            clean_wall = wall if name == "clean" else clean_wall
            failed = sum(not state.is_completed() for state in states)
            print(
                f"{name:<7}{runs:>5}{faults:>8}{loses.lost:>9}{found.duplicate_jobs:>9}"
                f"{found.duplicate_files:>10}{found.lost_events:>8}{found.repeated_events:>7}"
                f"{failed:>7}{wall:>8.1f}"
                + (f"{wall / clean_wall:>8.2f}x" if clean_wall else f"{'-':>9}")
            )
    prefect_api.close()


if __name__ == "__main__":
    main()
