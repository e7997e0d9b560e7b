"""Following a backlog (a burst of events): pages grow instead of shrinking, and a request that
fails beyond its retries costs only itself: the pages already read are delivered, not re-read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ftkit.api import Client, EventCursor, JobSpec
from ftkit.config import ProviderConfig

from .conftest import make_client, write_training_file

FAST = {"poll_interval_s": 0.02, "max_poll_interval_s": 0.2}


class FailOnce(httpx.BaseTransport):
    """Real HTTP, except the `nth` events request, which fails with a dropped connection; it
    records the (limit, after) of every events request."""

    def __init__(self, nth: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._nth = nth
        self.pages: list[tuple[str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            params = request.url.params
            self.pages.append((params["limit"], params.get("after")))
            if len(self.pages) == self._nth:
                raise httpx.RemoteProtocolError("connection dropped", request=request)
        return self._inner.handle_request(request)


def finished_job(backend: Any, tmp_path: Path) -> tuple[list[Any], EventCursor]:
    """A succeeded job with over 100 events, and the cursor after its first 3."""
    with make_client(backend) as client:
        file = client.files.upload_or_reuse(write_training_file(tmp_path / "t.jsonl", n=200))
        spec = JobSpec(model="babbage-002", training_file=file.id, n_epochs=2, batch_size=1)
        job = client.jobs.create(spec, run_key="burst")
        updates = list(client.jobs.follow(job.id, **FAST))
    assert len(updates) > 100
    return updates, updates[2].cursor


def test_a_backlog_is_read_in_pages_that_double_and_a_failed_page_is_read_again_alone(
    backend: Any, tmp_path: Path
) -> None:
    """Re-attaching 100+ events behind: pages of 10, 20, 40, 80, 100...; the third page fails
    (no retries left): only it is asked again, and every event arrives once, in order."""
    updates, cursor = finished_job(backend, tmp_path)
    transport = FailOnce(nth=3)
    provider = ProviderConfig(kind="local")
    http = httpx.Client(transport=transport)
    with Client(provider, base_url=backend.url, http_client=http, max_retries=0) as client:
        resumed = list(client.jobs.follow(cursor.job_id, cursor, **FAST))
    assert [u.event.id for u in resumed] == [u.event.id for u in updates[3:]]
    # one walk down to the marker (the failed page of 40 asked again, nothing before it), then
    # the usual short read for the finished job's last moments
    assert [int(limit) for limit, _ in transport.pages] == [10, 20, 40, 40, 80, 10]
    assert transport.pages[3] == transport.pages[2]
    assert len(set(transport.pages[:5])) == 4


def test_following_a_training_job_under_faults_delivers_each_event_once(
    backend: Any, tmp_path: Path
) -> None:
    """35% of the job's requests answered 503 and no retries in the requests themselves: the
    follow still ends with every event once, in the server's order."""
    with make_client(backend) as client:
        file = client.files.upload_or_reuse(write_training_file(tmp_path / "t.jsonl", n=60))
        spec = JobSpec(model="babbage-002", training_file=file.id, n_epochs=1, batch_size=1)
        backend.set_timing(step_seconds=0.01)
        job = client.jobs.create(spec, run_key="faulty")
    backend.set_faults(
        error_rate=0.35, error_status=503, path_pattern="^/v1/fine_tuning/jobs/", seed=3
    )
    with make_client(backend, max_retries=0) as client:
        updates = list(client.jobs.follow(job.id, **FAST))
    backend.clear_faults()
    with make_client(backend) as client:
        events = client.jobs.events(job.id)
    assert [u.event.id for u in updates] == [e.id for e in events]
    assert updates[-1].job_status.terminal
