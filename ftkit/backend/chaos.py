"""What chaos left behind, read from the backend's own records (for tests/chaos and bench/chaos).

`audit` compares the backend's jobs, files and events with the run folders that drove them:
one job per run key, one stored file per distinct content, every remote event recorded once in
its run's events.jsonl. `faults_seen` counts the failures the backend injected.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ftkit.api import RUN_KEY_METADATA, Client
from ftkit.runs.folder import RunFolder


@dataclass(frozen=True)
class Audit:
    """Counts over one tenant's records; every `duplicate_*`, `lost_*` and `repeated_*` is 0
    when nothing was paid twice and nothing was lost."""

    runs: int
    jobs: int
    duplicate_jobs: int
    files: int
    duplicate_files: int
    events: int
    lost_events: int
    repeated_events: int

    @property
    def clean(self) -> bool:
        """No duplicate job or file, no lost or repeated event."""
        return not (
            self.duplicate_jobs or self.duplicate_files or self.lost_events or self.repeated_events
        )


def audit(client: Client, run_dirs: list[Path]) -> Audit:
    """Audit the tenant `client` speaks for against the run folders it served."""
    jobs = client.jobs.list()
    per_key = Counter(job.metadata.get(RUN_KEY_METADATA) for job in jobs)
    files = client.files.list()
    contents = Counter(hashlib.sha256(client.files.content(f.id)).hexdigest() for f in files)
    events = lost = repeated = 0
    for run_dir in run_dirs:
        state = RunFolder(run_dir).load_state()
        if state.job_id is None:
            continue
        remote = [event.id for event in client.jobs.events(state.job_id)]
        local = recorded_event_ids(run_dir / "events.jsonl")
        events += len(remote)
        lost += len(set(remote) - set(local))
        repeated += len(local) - len(set(local))
    return Audit(
        runs=len(run_dirs),
        jobs=len(jobs),
        duplicate_jobs=sum(n - 1 for n in per_key.values()),
        files=len(files),
        duplicate_files=sum(n - 1 for n in contents.values()),
        events=events,
        lost_events=lost,
        repeated_events=repeated,
    )


def recorded_event_ids(events_jsonl: Path) -> list[str]:
    """The event ids a run folder recorded, in order (with any repeats)."""
    if not events_jsonl.is_file():
        return []
    lines = events_jsonl.read_bytes().splitlines()
    return [orjson.loads(line)["id"] for line in lines if line.strip()]


def faults_seen(stats: dict[str, Any]) -> int:
    """Requests the backend dropped (status 0) or failed with 429/5xx, from its stats."""
    return sum(
        1 for r in stats["requests"] if r["status"] == 0 or r["status"] in (429, 500, 502, 503)
    )
