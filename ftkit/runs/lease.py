"""A lease on a folder: one runner at a time, across processes and machines that share it.

    <folder>/lease.json   who holds it: owner id, host, pid, label, heartbeat time, time to live
    <folder>/lease.lock   a POSIX (fcntl) lock held only while lease.json is read and changed

The holder renews its heartbeat from a thread every `ttl_s / 4`. The lease is free when
lease.json is absent, when its heartbeat is older than `ttl_s` (a dead or frozen holder on any
machine), or at once when its holder ran on this host and that process is gone (a kill -9).
Everyone else waits, reading only. Used for run folders (one runner per run key) and wherever
work must happen exactly once.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path

from pydantic import BaseModel

from ftkit.runs.atomic import read_json, write_json_atomic
from ftkit.runs.file_lock import locked_file
from ftkit.runs.process import process_alive, process_started

DEFAULT_TTL_S = 30.0


class LeaseHolder(BaseModel):
    """The content of lease.json."""

    owner: str
    host: str
    pid: int
    pid_started: str | None = None
    label: str = ""
    acquired_at: float
    heartbeat_at: float
    ttl_s: float

    def describe(self) -> str:
        """Who holds the lease, for messages."""
        label = f" ({self.label})" if self.label else ""
        return f"pid {self.pid} on {self.host}{label}"

    def alive(self) -> bool:
        """Whether this holder still counts: a fresh heartbeat and, on this host, its process."""
        if time.time() - self.heartbeat_at > self.ttl_s:
            return False
        return self.host != socket.gethostname() or process_alive(self.pid, self.pid_started)

    def is_this_process(self) -> bool:
        """Whether this process holds the lease."""
        return self.host == socket.gethostname() and self.pid == os.getpid()


class LeaseLostError(RuntimeError):
    """Another runner took the lease over (this holder stalled past its time to live)."""


class Lease:
    """A lease on `folder`; `try_acquire`, then `release` (or use `held`)."""

    def __init__(self, folder: Path, *, label: str = "", ttl_s: float = DEFAULT_TTL_S) -> None:
        self.folder = folder
        self.path = folder / "lease.json"
        self.lock_path = folder / "lease.lock"
        self.label = label
        self.ttl_s = ttl_s
        self.owner = uuid.uuid4().hex
        self.lost = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def holder(self) -> LeaseHolder | None:
        """The live holder (None if the lease is free)."""
        with self._locked():
            return self._live_holder()

    def try_acquire(self) -> bool:
        """Take the lease if it is free (or already ours); start the heartbeat."""
        with self._locked():
            current = self._live_holder()
            if current is not None and current.owner != self.owner:
                return False
            now = time.time()
            write_json_atomic(
                self.path,
                LeaseHolder(
                    owner=self.owner,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    pid_started=process_started(os.getpid()),
                    label=self.label,
                    acquired_at=now,
                    heartbeat_at=now,
                    ttl_s=self.ttl_s,
                ).model_dump(),
            )
        self.lost = False
        self._stop.clear()
        if self._beat is None or not self._beat.is_alive():
            self._beat = threading.Thread(target=self._heartbeat, name="ftkit-lease", daemon=True)
            self._beat.start()
        return True

    async def acquire(
        self, on_wait: Callable[[LeaseHolder], None] | None = None, poll_s: float = 0.5
    ) -> None:
        """Wait until the lease is ours; `on_wait` hears once about the holder waited for."""
        told = False
        while not self.try_acquire():
            holder = self.holder()
            if holder is not None and not told and on_wait is not None:
                on_wait(holder)
                told = True
            await asyncio.sleep(poll_s)

    def check(self) -> None:
        """Raise LeaseLostError if another runner took the lease over."""
        if self.lost:
            msg = f"{self.folder}: another runner took over this run (lease lost)."
            raise LeaseLostError(msg)

    def release(self) -> None:
        """Stop the heartbeat and free the lease if it is still ours."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        with self._locked():
            current = self._read()
            if current is not None and current.owner == self.owner:
                self.path.unlink(missing_ok=True)

    @asynccontextmanager
    async def held(
        self, on_wait: Callable[[LeaseHolder], None] | None = None
    ) -> AsyncIterator[Lease]:
        """Hold the lease for the body (waiting for it first)."""
        await self.acquire(on_wait)
        try:
            yield self
        finally:
            self.release()

    # ------------------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            with self._locked():
                current = self._read()
                if current is None or current.owner != self.owner:
                    self.lost = True
                    return
                current.heartbeat_at = time.time()
                write_json_atomic(self.path, current.model_dump())

    def _read(self) -> LeaseHolder | None:
        try:
            return LeaseHolder.model_validate(read_json(self.path))
        except FileNotFoundError:
            return None
        except ValueError:  # a torn or foreign file: nobody holds it
            return None

    def _live_holder(self) -> LeaseHolder | None:
        current = self._read()
        if current is None:
            return None
        if current.owner == self.owner or current.alive():
            return current
        return None

    def _locked(self) -> AbstractContextManager[None]:
        return locked_file(self.lock_path, fcntl.lockf)


def other_runner(folder: Path) -> LeaseHolder | None:
    """The live holder of `folder`'s lease when it is another process (reads only, no lock)."""
    try:
        holder = LeaseHolder.model_validate(read_json(folder / "lease.json"))
    except (FileNotFoundError, ValueError):
        return None
    return None if holder.is_this_process() or not holder.alive() else holder
