"""Following a job's events: each event once, oldest first, resumable from a saved cursor.

jobs dialect (polling). The API lists events newest first and `after=<id>` pages to OLDER ones,
so there is no way to ask "what came after X". Each poll therefore reads the newest page with a
small `limit` and walks older pages only until it meets the last event already delivered (the
cursor's `last_id`, the "marker"). The limit is the number of new events seen last time (+10%) + 1,
so a steady job costs one events request per poll that re-reads one old event (the marker); a
burst costs a few more requests with pages that double in size, never the history. A request
that fails (after its own retries) is retried alone: the pages already read are kept and
delivered, so the cursor advances by everything fetched. Polling backs off while nothing
changes.

legacy dialect (SSE). `GET /fine-tunes/{id}/events?stream=true` replays the whole history and
then pushes new events. Legacy events have no id, so the cursor counts delivered events and keeps
a fingerprint (created_at + message) of the last one; after a dropped stream or a restart the
replay is read and the first `seen` events are skipped (the fingerprint checks the replay).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ftkit.api._instructions import Call, CloseStream, Emit, NextLine, OpenStream, Sleep
from ftkit.api.dialects import event_fingerprint
from ftkit.api.models import EventCursor, FollowUpdate, JobEvent, JobStatus
from ftkit.api.sse import DONE, SSEDecoder
from ftkit.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigError,
    InternalServerError,
    QuotaExceededError,
    RateLimitError,
)

if TYPE_CHECKING:
    from ftkit.api._base import BaseClient

log = logging.getLogger("ftkit.api")

MAX_PAGE = 100
RESUME_PAGE = 10  # first page after a resume: unknown backlog, modest overshoot
MAX_QUIET_RECONNECTS = 8  # failed polls / reconnects in a row, after each request's retries
_TRANSIENT = (APIConnectionError, InternalServerError, RateLimitError)

# legacy events that reveal the job's state; later states win over earlier ones.
_LEGACY_STATUS = {
    "Fine-tune enqueued": JobStatus.queued,
    "Fine-tune started": JobStatus.running,
    "Fine-tune succeeded": JobStatus.succeeded,
    "Fine-tune failed": JobStatus.failed,
    "Fine-tune cancelled": JobStatus.cancelled,
}
_ORDER = {s: i for i, s in enumerate(JobStatus)}


def advance(cursor: EventCursor, event: JobEvent) -> EventCursor:
    """The cursor after delivering `event`."""
    return EventCursor(
        job_id=cursor.job_id,
        seen=cursor.seen + 1,
        last_id=event.id,
        last_created_at=event.created_at,
        last_fingerprint=event_fingerprint(event.created_at, event.message),
    )


class _Deadline:
    def __init__(self, timeout_s: float | None) -> None:
        self.end = None if timeout_s is None else time.monotonic() + timeout_s

    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def remaining(self, cap: float) -> float:
        return cap if self.end is None else max(0.0, min(cap, self.end - time.monotonic()))


def _timeout(job_id: str, timeout_s: float | None) -> APITimeoutError:
    return APITimeoutError(
        f"Stopped following job {job_id} after {timeout_s:g} s; the job keeps running. "
        f"Re-attach with `ftkit jobs follow {job_id}`."
    )


def follow(
    client: BaseClient,
    job_id: str,
    cursor: EventCursor | None,
    poll_interval_s: float,
    max_poll_interval_s: float,
    timeout_s: float | None,
) -> Generator[Any, Any, None]:
    """The follow operation for the client's dialect (an operation generator)."""
    cursor = cursor or EventCursor(job_id=job_id)
    if cursor.job_id != job_id:
        raise ConfigError(
            f"The cursor belongs to job {cursor.job_id}, not {job_id}; pass that job's."
        )
    deadline = _Deadline(timeout_s)
    if client.dialect.streams_events:
        yield from _follow_stream(client, job_id, cursor, deadline, timeout_s)
    else:
        yield from _follow_poll(
            client, job_id, cursor, deadline, timeout_s, poll_interval_s, max_poll_interval_s
        )


def _follow_poll(
    client: BaseClient,
    job_id: str,
    cursor: EventCursor,
    deadline: _Deadline,
    timeout_s: float | None,
    poll_interval_s: float,
    max_poll_interval_s: float,
) -> Generator[Any, Any, None]:
    interval = poll_interval_s
    walk = _Walk(cursor, MAX_PAGE if cursor.last_id is None else RESUME_PAGE)
    status: JobStatus | None = None  # the job's status read after this poll's events
    known: JobStatus | None = None  # the last status read at all
    last_poll = False
    failures = 0
    while True:
        try:
            # events first, then the job: each event is labelled with a status seen after it
            yield from walk.read(client, job_id)
            if status is None:
                status = known = (yield from client._op_job_get(job_id)).status
        except _TRANSIENT as exc:
            # the request's own retries are used up: an outage; keep following, patiently,
            # from the request that failed (what was read stays read)
            failures += 1
            if failures > MAX_QUIET_RECONNECTS or isinstance(exc, QuotaExceededError):
                yield from _deliver(walk, known, client)
                raise
            if deadline.passed():
                yield from _deliver(walk, known, client)
                raise _timeout(job_id, timeout_s) from exc
            log.info("job %s: poll failed (%s); trying again", job_id, exc)
            yield Sleep(deadline.remaining(client.policy.delay(failures, None) or 0.0))
            continue
        failures = 0
        delivered = yield from _deliver(walk, status, client)
        if status.terminal:
            if last_poll:
                return
            # one more (usually empty) read for events of the job's last moments
            last_poll = True
            walk = _Walk(walk.cursor, RESUME_PAGE)
            continue
        # expect as many new events as last time (+10%), +1 for the marker (the last delivered)
        walk = _Walk(walk.cursor, min(MAX_PAGE, max(1, delivered * 11 // 10) + 1))
        status = None
        interval = poll_interval_s if delivered else min(interval * 2, max_poll_interval_s)
        if deadline.passed():
            raise _timeout(job_id, timeout_s)
        yield Sleep(deadline.remaining(interval))


def _deliver(walk: _Walk, status: JobStatus | None, client: BaseClient) -> Generator[Any, Any, int]:
    """Emit the events a finished walk read (labelled `status`); how many there were."""
    if not walk.done or status is None:
        return 0
    events = walk.take_events(client)
    for event in events:
        walk.cursor = advance(walk.cursor, event)
        yield Emit(FollowUpdate(event=event, job_status=status, cursor=walk.cursor))
    return len(events)


class _Walk:
    """One poll's read of the events newer than the cursor: newest-first pages down to the last
    delivered event (the marker). A failed page leaves the pages already read in place, and
    `read` goes on from the failed one. After a burst (a full page without the marker) each
    older page is twice as large as the one before, so a backlog costs few requests."""

    def __init__(self, cursor: EventCursor, limit: int) -> None:
        self.cursor = cursor
        self.params: dict[str, Any] = {"limit": limit}
        self.newest_first: list[dict[str, Any]] = []
        self.reached = False
        self.done = False

    def read(self, client: BaseClient, job_id: str) -> Generator[Any, Any, None]:
        """Read pages until the marker, the end of the history, or a failure (which raises)."""
        while not self.done:
            page = yield Call(
                "GET",
                f"{client.dialect.jobs_path}/{job_id}/events",
                what=f"list events of job {job_id}",
                params=self.params,
            )
            data = page.get("data") or []
            for item in data:
                if self.cursor.last_id is not None and item.get("id") == self.cursor.last_id:
                    self.reached = True
                    break
                self.newest_first.append(item)
            if self.reached or not data or not page.get("has_more"):
                self.done = True
                return
            limit = min(MAX_PAGE, int(self.params["limit"]) * 2)
            self.params = {"limit": limit, "after": data[-1]["id"]}

    def take_events(self, client: BaseClient) -> list[JobEvent]:
        """The events read, oldest first (once: the walk is emptied)."""
        items, self.newest_first = self.newest_first[::-1], []
        cursor = self.cursor
        if cursor.last_id is not None and not self.reached and cursor.seen:
            # the marker is gone (history trimmed?): fall back to the count of delivered events
            log.warning(
                "job %s: last seen event %s not found; skipping by count",
                cursor.job_id,
                cursor.last_id,
            )
            items = items[cursor.seen :]
        return [
            client.dialect.parse_event(item, cursor.seen + i + 1) for i, item in enumerate(items)
        ]


def _follow_stream(
    client: BaseClient,
    job_id: str,
    cursor: EventCursor,
    deadline: _Deadline,
    timeout_s: float | None,
) -> Generator[Any, Any, None]:
    failures = 0
    while True:
        call = Call(
            "GET",
            f"{client.dialect.jobs_path}/{job_id}/events",
            what=f"stream events of job {job_id}",
            params={"stream": "true"},
            read_timeout=deadline.remaining(client.read_timeout_s) if deadline.end else None,
        )
        opened = progressed = False
        try:
            status = (yield from client._op_job_get(job_id)).status
            handle = yield OpenStream(call)
            opened = True
            decoder = SSEDecoder()
            position = 0
            while True:
                line = yield NextLine(handle)
                data = decoder.flush() if line is None else decoder.feed(line)
                if data == DONE:
                    yield CloseStream(handle)
                    return
                if data is not None:
                    position += 1
                    event = _stream_event(client, data, position, cursor)
                    if event is not None:
                        progressed = True
                        status = _later(status, _LEGACY_STATUS.get(event.message.rstrip(".")))
                        cursor = advance(cursor, event)
                        yield Emit(FollowUpdate(event=event, job_status=status, cursor=cursor))
                if line is None:
                    yield CloseStream(handle)
                    raise APIConnectionError(f"The event stream of job {job_id} ended early.")
        except _TRANSIENT as exc:
            if deadline.passed():
                raise _timeout(job_id, timeout_s) from exc
            # a long silence on an open stream (job queued) is not a failure
            silent = opened and isinstance(exc, APITimeoutError)
            failures = 0 if progressed or silent else failures + 1
            if failures > MAX_QUIET_RECONNECTS or isinstance(exc, QuotaExceededError):
                raise
            log.info("job %s: event stream interrupted (%s); reconnecting", job_id, exc)
            yield Sleep(deadline.remaining(client.policy.delay(failures, None) or 0.0))


def _stream_event(
    client: BaseClient, data: str, position: int, cursor: EventCursor
) -> JobEvent | None:
    """The event at `position` of a replayed stream, or None when it was delivered before."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise APIConnectionError(f"The event stream sent invalid JSON ({exc}).") from exc
    if isinstance(payload, dict) and payload.get("error"):
        error = payload["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise APIError(f"The event stream reported an error: {message}")
    if position < cursor.seen:
        return None
    event = client.dialect.parse_event(payload, position)
    if position == cursor.seen:
        if cursor.last_fingerprint and cursor.last_fingerprint != event_fingerprint(
            event.created_at, event.message
        ):
            log.warning(
                "job %s: replayed event %d differs from the one seen", cursor.job_id, position
            )
        return None
    return event


def _later(current: JobStatus, seen: JobStatus | None) -> JobStatus:
    if seen is None or current.terminal:
        return current
    return seen if _ORDER[seen] > _ORDER[current] else current
