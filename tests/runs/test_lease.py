"""The run lease: one holder at a time across processes; a dead or frozen holder is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftkit.runs.lease import Lease, LeaseHolder, LeaseLostError, other_runner

HOLD = """
import sys, time
from pathlib import Path
from ftkit.runs.lease import Lease
lease = Lease(Path(sys.argv[1]), label="holder", ttl_s=float(sys.argv[2]))
assert lease.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


def hold_in_process(folder: Path, ttl_s: float = 30.0) -> subprocess.Popen[str]:
    """Another process that takes the lease and keeps it (heartbeats running)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), str(ttl_s)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_live_holder_in_another_process_keeps_the_lease(tmp_path: Path) -> None:
    holder = hold_in_process(tmp_path)
    try:
        lease = Lease(tmp_path)
        assert not lease.try_acquire()
        current = lease.holder()
        assert current is not None and current.pid == holder.pid and current.label == "holder"
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_on_this_host_is_replaced_at_once(tmp_path: Path) -> None:
    """kill -9 leaves lease.json behind; its pid is gone, so the next runner takes over."""
    holder = hold_in_process(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lease = Lease(tmp_path)
    assert lease.try_acquire()
    lease.release()
    assert not (tmp_path / "lease.json").exists()


def test_a_frozen_holder_loses_the_lease_after_its_time_to_live(tmp_path: Path) -> None:
    """A stopped process (as a machine that froze) stops beating; after ttl it is free."""
    holder = hold_in_process(tmp_path, ttl_s=1.0)
    try:
        os.kill(holder.pid, signal.SIGSTOP)
        lease = Lease(tmp_path)
        assert not lease.try_acquire()  # fresh heartbeat: still held
        deadline = time.monotonic() + 10
        while not lease.try_acquire():
            assert time.monotonic() < deadline, "a frozen holder kept the lease"
            time.sleep(0.1)
        lease.release()
    finally:
        holder.kill()
        holder.wait()


def test_a_holder_that_was_replaced_notices_and_stops(tmp_path: Path) -> None:
    """If another runner took over (this one froze past its ttl), check() raises."""
    mine = Lease(tmp_path, ttl_s=0.4)
    assert mine.try_acquire()
    other = Lease(tmp_path)
    # what another machine does after this holder's heartbeat went stale
    (tmp_path / "lease.json").write_text(
        LeaseHolder(
            owner=other.owner,
            host="elsewhere",
            pid=1,
            acquired_at=time.time(),
            heartbeat_at=time.time(),
            ttl_s=30,
        ).model_dump_json()
    )
    deadline = time.monotonic() + 5
    while not mine.lost:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(LeaseLostError, match="another runner took over"):
        mine.check()
    mine.release()
    assert other.holder() is not None  # releasing a lost lease leaves the new holder's


def test_a_waiter_gets_the_lease_when_the_holder_releases(tmp_path: Path) -> None:
    first = Lease(tmp_path, label="first")
    assert first.try_acquire()
    heard: list[str] = []

    async def wait_then_hold() -> None:
        async with Lease(tmp_path).held(lambda h: heard.append(h.label)):
            heard.append("acquired")

    async def scenario() -> None:
        waiter = asyncio.create_task(wait_then_hold())
        await asyncio.sleep(0.3)
        assert not waiter.done()
        first.release()
        await asyncio.wait_for(waiter, 5)

    asyncio.run(scenario())
    assert heard == ["first", "acquired"]


def test_other_runner_names_another_live_process_but_never_this_one(tmp_path: Path) -> None:
    """What `ftkit run` shows a second runner: who it waits for; nothing for its own lease."""
    own = Lease(tmp_path / "own")
    assert own.try_acquire()
    try:
        assert other_runner(tmp_path / "own") is None
    finally:
        own.release()
    holder = hold_in_process(tmp_path / "other")
    try:
        runner = other_runner(tmp_path / "other")
        assert runner is not None and runner.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert other_runner(tmp_path / "other") is None  # a killed holder is nobody
