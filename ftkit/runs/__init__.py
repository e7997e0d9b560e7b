"""Run folders, run keys, the run index and resumable event logs (no Prefect here)."""

from ftkit.runs.events import EventLog
from ftkit.runs.folder import RunFolder
from ftkit.runs.index import RunIndex
from ftkit.runs.key import config_hash, dataset_hash, run_id, run_key
from ftkit.runs.state import FINAL_STATUSES, IndexEntry, RunError, RunOutcome, RunState

__all__ = [
    "FINAL_STATUSES",
    "EventLog",
    "IndexEntry",
    "RunError",
    "RunFolder",
    "RunIndex",
    "RunOutcome",
    "RunState",
    "config_hash",
    "dataset_hash",
    "run_id",
    "run_key",
]
