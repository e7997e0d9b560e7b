"""Persistence: SQLite metadata (WAL) plus a blob folder, written atomically.

One connection guarded by a lock serves the request threads and the job runner; worker
processes never touch the database. Records are stored as JSON documents next to the few
columns that are queried.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from ftkit.backend.ids import new_id
from ftkit.backend.records import (
    CheckpointRecord,
    EventRecord,
    FileRecord,
    JobRecord,
    ModelRecord,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, org TEXT NOT NULL,
    purpose TEXT NOT NULL, created_at INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, org TEXT NOT NULL,
    dialect TEXT NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
    key TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (job_id, key));
CREATE TABLE IF NOT EXISTS steps (
    job_id TEXT NOT NULL, step INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (job_id, step));
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
    model TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runners (
    id TEXT PRIMARY KEY, pid INTEGER NOT NULL, heartbeat REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    org TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, job_id TEXT NOT NULL,
    PRIMARY KEY (org, key));
CREATE TABLE IF NOT EXISTS models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, org TEXT NOT NULL,
    doc TEXT NOT NULL);
"""

R = TypeVar("R", bound=BaseModel)
RUNNER_STALE_S = 5.0  # a runner that has not beaten for this long is gone


def _dump(record: BaseModel) -> str:
    return record.model_dump_json()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Store:
    """Files, jobs, events, step metrics, checkpoints and models of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / "files"
        self.jobs_dir = data_dir / "jobs"
        for folder in (self.blob_dir, self.jobs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            data_dir / "ftkit-backend.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of writes (re-entrant)."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _docs(self, model: type[R], sql: str, args: Iterable[Any] = ()) -> list[R]:
        return [model.model_validate_json(row[0]) for row in self._rows(sql, args)]

    # files -------------------------------------------------------------------------------------

    def blob_path(self, file_id: str) -> Path:
        """Where a file's bytes live."""
        return self.blob_dir / file_id

    def new_blob_tmp(self) -> Path:
        """A fresh temporary path in the blob folder (rename it with `add_file`)."""
        return self.blob_dir / f".upload-{new_id('', 16)}"

    def add_file(self, record: FileRecord, tmp_path: Path) -> None:
        """Move a fully written temporary blob into place and record it."""
        os.replace(tmp_path, self.blob_path(record.id))
        with self.transaction() as db:
            db.execute(
                "INSERT INTO files (id, org, purpose, created_at, doc) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.org, record.purpose, record.created_at, _dump(record)),
            )

    def add_file_bytes(self, record: FileRecord, data: bytes) -> None:
        """Store generated bytes (a result file) atomically and record them."""
        tmp = self.new_blob_tmp()
        write_atomic(tmp, data)
        self.add_file(record, tmp)

    def get_file(self, file_id: str, org: str) -> FileRecord | None:
        """A file of this organization, or None."""
        found = self._docs(
            FileRecord, "SELECT doc FROM files WHERE id = ? AND org = ?", (file_id, org)
        )
        return found[0] if found else None

    def list_files(
        self, org: str, *, purpose: str | None, descending: bool, after: str | None
    ) -> list[FileRecord]:
        """Files of an organization by creation order, starting after the cursor file."""
        sql = "SELECT doc FROM files WHERE org = ?"
        args: list[Any] = [org]
        if purpose:
            sql += " AND purpose = ?"
            args.append(purpose)
        if after:
            op = "<" if descending else ">"
            sql += f" AND seq {op} COALESCE((SELECT seq FROM files WHERE id = ?), ?)"
            args += [after, -1 if descending else 1 << 62]
        sql += " ORDER BY seq " + ("DESC" if descending else "ASC")
        return self._docs(FileRecord, sql, args)

    def delete_file(self, file_id: str) -> None:
        """Forget a file and remove its bytes."""
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE id = ?", (file_id,))
        self.blob_path(file_id).unlink(missing_ok=True)

    # jobs --------------------------------------------------------------------------------------

    def add_job(self, job: JobRecord) -> None:
        """Record a new job."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, org, dialect, status, doc) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.org, job.dialect, job.status, _dump(job)),
            )

    def idempotent_job(self, org: str, key: str) -> tuple[str, str] | None:
        """(job id, request fingerprint) remembered for an organization's Idempotency-Key."""
        rows = self._rows(
            "SELECT job_id, fingerprint FROM idempotency WHERE org = ? AND key = ?", (org, key)
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def remember_idempotent_job(self, org: str, key: str, fingerprint: str, job_id: str) -> None:
        """Remember which job an Idempotency-Key made, for which request."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO idempotency (org, key, fingerprint, job_id) VALUES (?, ?, ?, ?)",
                (org, key, fingerprint, job_id),
            )

    def get_job(self, job_id: str, org: str | None = None) -> JobRecord | None:
        """A job (of this organization when `org` is given), or None."""
        sql, args = "SELECT doc FROM jobs WHERE id = ?", [job_id]
        if org is not None:
            sql += " AND org = ?"
            args.append(org)
        found = self._docs(JobRecord, sql, args)
        return found[0] if found else None

    def list_jobs(self, org: str, dialect: str, *, after: str | None = None) -> list[JobRecord]:
        """Jobs of one dialect, newest first, older than the cursor job."""
        sql = "SELECT doc FROM jobs WHERE org = ? AND dialect = ?"
        args: list[Any] = [org, dialect]
        if after:
            sql += " AND seq < COALESCE((SELECT seq FROM jobs WHERE id = ?), -1)"
            args.append(after)
        return self._docs(JobRecord, sql + " ORDER BY seq DESC", args)

    def jobs_with_status(self, statuses: Iterable[str]) -> list[JobRecord]:
        """Jobs in any of these statuses, oldest first (all organizations)."""
        wanted = tuple(statuses)
        marks = ",".join("?" * len(wanted))
        return self._docs(
            JobRecord, f"SELECT doc FROM jobs WHERE status IN ({marks}) ORDER BY seq", wanted
        )

    def update_job(
        self, job_id: str, *, expect: Iterable[str] | None = None, **changes: Any
    ) -> JobRecord | None:
        """Apply changes; with `expect`, only while the status is one of those (else None)."""
        with self.transaction() as db:
            job = self.get_job(job_id)
            if job is None or (expect is not None and job.status not in tuple(expect)):
                return None
            changes.setdefault("updated_at", int(time.time()))
            job = job.model_copy(update=changes)
            job = JobRecord.model_validate(job.model_dump())
            db.execute(
                "UPDATE jobs SET status = ?, doc = ? WHERE id = ?", (job.status, _dump(job), job.id)
            )
            return job

    # events ------------------------------------------------------------------------------------

    def add_event(
        self,
        job_id: str,
        key: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> bool:
        """Record an event once per (job, key); False when it was already recorded."""
        event = EventRecord(
            id=new_id("ftevent-"),
            job_id=job_id,
            key=key,
            created_at=int(time.time()),
            level=level,
            message=message,
            type=type,
            data=data,
        )
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (id, job_id, key, doc) VALUES (?, ?, ?, ?)",
                (event.id, job_id, key, _dump(event)),
            )
            return cursor.rowcount > 0

    def events(self, job_id: str, *, after_seq: int = 0) -> list[tuple[int, EventRecord]]:
        """Events oldest first with their sequence numbers, after `after_seq`."""
        rows = self._rows(
            "SELECT seq, doc FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
            (job_id, after_seq),
        )
        return [(seq, EventRecord.model_validate_json(doc)) for seq, doc in rows]

    def event_seq(self, event_id: str) -> int | None:
        """Sequence number of an event id (for `after` cursors)."""
        rows = self._rows("SELECT seq FROM events WHERE id = ?", (event_id,))
        return rows[0][0] if rows else None

    # step metrics ------------------------------------------------------------------------------

    def put_step(self, job_id: str, step: int, metrics: dict[str, Any]) -> None:
        """Record (or overwrite with identical re-run values) one step's metrics."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO steps (job_id, step, doc) VALUES (?, ?, ?)",
                (job_id, step, orjson.dumps(metrics).decode()),
            )

    def steps(self, job_id: str) -> list[dict[str, Any]]:
        """All recorded step metrics of a job, by step."""
        rows = self._rows("SELECT doc FROM steps WHERE job_id = ? ORDER BY step", (job_id,))
        return [orjson.loads(row[0]) for row in rows]

    def last_step(self, job_id: str) -> int:
        """Highest recorded step (0 when none)."""
        rows = self._rows("SELECT MAX(step) FROM steps WHERE job_id = ?", (job_id,))
        return rows[0][0] or 0

    # checkpoints -------------------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: CheckpointRecord) -> None:
        """Record a checkpoint (once per job and step)."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM checkpoints WHERE job_id = ? AND json_extract(doc, '$.step') = ?",
                (checkpoint.job_id, checkpoint.step),
            )
            db.execute(
                "INSERT INTO checkpoints (id, job_id, model, doc) VALUES (?, ?, ?, ?)",
                (checkpoint.id, checkpoint.job_id, checkpoint.model, _dump(checkpoint)),
            )

    def checkpoints(self, job_id: str) -> list[CheckpointRecord]:
        """Checkpoints of a job, newest first."""
        return self._docs(
            CheckpointRecord,
            "SELECT doc FROM checkpoints WHERE job_id = ? ORDER BY seq DESC",
            (job_id,),
        )

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        """Forget a checkpoint."""
        with self.transaction() as db:
            db.execute("DELETE FROM checkpoints WHERE id = ?", (checkpoint_id,))

    def checkpoint_by_model(self, model: str, org: str) -> CheckpointRecord | None:
        """The checkpoint served under a `…:ckpt-step-N` model name."""
        found = self._docs(
            CheckpointRecord, "SELECT doc FROM checkpoints WHERE model = ?", (model,)
        )
        return found[0] if found and found[0].org == org else None

    # job runners (several servers may share a data dir) -------------------------------------

    def beat(self, runner_id: str) -> None:
        """Record that a job runner of this process is alive."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO runners (id, pid, heartbeat) VALUES (?, ?, ?)",
                (runner_id, os.getpid(), time.time()),
            )

    def forget_runner(self, runner_id: str) -> None:
        """A runner stopped cleanly: its running jobs may be resumed at once."""
        with self.transaction() as db:
            db.execute("DELETE FROM runners WHERE id = ?", (runner_id,))

    def runner_alive(self, runner_id: str) -> bool:
        """Whether a runner beat recently and its process still exists."""
        rows = self._rows("SELECT pid, heartbeat FROM runners WHERE id = ?", (runner_id,))
        if not rows or time.time() - rows[0][1] > RUNNER_STALE_S:
            return False
        try:
            os.kill(rows[0][0], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # models ------------------------------------------------------------------------------------

    def add_model(self, model: ModelRecord) -> None:
        """Register a fine-tuned model."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO models (id, org, doc) VALUES (?, ?, ?)",
                (model.id, model.org, _dump(model)),
            )

    def get_model(self, model_id: str, org: str) -> ModelRecord | None:
        """A fine-tuned model of this organization, or None."""
        found = self._docs(
            ModelRecord, "SELECT doc FROM models WHERE id = ? AND org = ?", (model_id, org)
        )
        return found[0] if found else None

    def list_models(self, org: str) -> list[ModelRecord]:
        """Fine-tuned models of an organization, oldest first."""
        return self._docs(ModelRecord, "SELECT doc FROM models WHERE org = ? ORDER BY seq", (org,))

    def delete_model(self, model_id: str) -> None:
        """Forget a fine-tuned model."""
        with self.transaction() as db:
            db.execute("DELETE FROM models WHERE id = ?", (model_id,))
