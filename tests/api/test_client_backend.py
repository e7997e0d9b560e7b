"""The client against the real embedded backend over loopback, in both dialects."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from ftkit.api import AsyncClient, Client, EventCursor, JobSpec, JobStatus
from ftkit.config import ProviderConfig
from ftkit.errors import (
    APITimeoutError,
    ConfigError,
    InternalServerError,
    NotFoundError,
    QuotaExceededError,
)
from ftkit.results import fetch_results, summarize

from .conftest import count, make_client, write_training_file

DIALECTS = ["jobs", "legacy"]
FAST = {"poll_interval_s": 0.02, "max_poll_interval_s": 0.2}


def test_files_roundtrip(backend, train_file, tmp_path):
    """Upload with progress, list, get, content, streamed download, delete."""
    progress: list[tuple[int, int]] = []
    with make_client(backend) as client:
        item = client.files.upload(train_file, progress=lambda d, t: progress.append((d, t)))
        size = train_file.stat().st_size
        assert (item.filename, item.bytes, item.purpose) == ("train.jsonl", size, "fine-tune")
        assert progress[-1] == (size, size)
        assert client.files.wait_processed(item.id, timeout_s=10).status == "processed"
        assert item.id in [f.id for f in client.files.list()]
        assert client.files.get(item.id).bytes == size
        assert client.files.content(item.id) == train_file.read_bytes()
        dest = client.files.download(item.id, tmp_path / "out" / "copy.jsonl")
        assert dest.read_bytes() == train_file.read_bytes()
        assert client.files.delete(item.id) is True
        with pytest.raises(NotFoundError) as info:
            client.files.get(item.id)
        assert info.value.request_id


def test_file_list_follows_pages(backend, tmp_path):
    """Listing walks every page (`after` while has_more)."""
    with make_client(backend) as client:
        ids = {
            client.files.upload(write_training_file(tmp_path / f"t{i}.jsonl", 10, salt=str(i))).id
            for i in range(5)
        }
        listed = client._run(client._op_pages("/files", {"limit": 2}, "files"))
    assert ids <= {item["id"] for item in listed}
    assert count(backend, "GET", "/v1/files") >= 3


def test_upload_or_reuse_uploads_each_content_once(backend, train_file, tmp_path):
    """The same bytes are uploaded once, even from another client (machine) or another path."""
    copy = tmp_path / "elsewhere" / "train.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(train_file.read_bytes())
    with make_client(backend) as one, make_client(backend) as other:
        first = one.files.upload_or_reuse(train_file)
        assert other.files.upload_or_reuse(copy).id == first.id
        assert one.files.upload_or_reuse(train_file).id == first.id
    assert first.filename.startswith("train.") and first.filename.endswith(".jsonl")
    assert count(backend, "POST", "/v1/files") == 1


@pytest.mark.parametrize("fault", [{"error_rate": 1.0, "error_status": 500}, {"drop_rate": 1.0}])
def test_upload_or_reuse_survives_failures_without_duplicates(backend, train_file, fault):
    """A 5xx or a dropped connection during upload: looked up, retried, one file in the end."""
    backend.set_faults(
        **{**fault, "path_pattern": "^/v1/files$", "methods": ["POST"], "count": 1},
    )
    with make_client(backend) as client:
        item = client.files.upload_or_reuse(train_file)
        same = [f for f in client.files.list() if f.filename == item.filename]
    assert [f.id for f in same] == [item.id]
    assert count(backend, "POST", "/v1/files") == 2


def test_retries_429_with_retry_after_then_succeeds(backend):
    """429s with retry-after-ms are retried; the request count shows each attempt."""
    backend.set_faults(
        error_rate=1.0,
        error_status=429,
        retry_after_ms=5,
        count=2,
        path_pattern="^/v1/models$",
    )
    with make_client(backend) as client:
        assert any(m.id == "babbage-002" for m in client.models.list())
    assert count(backend, "GET", "/v1/models") == 3


def test_5xx_beyond_max_retries_is_raised(backend):
    """Persistent 503s are retried max_retries times, then InternalServerError."""
    backend.set_faults(
        error_rate=1.0,
        error_status=503,
        path_pattern="^/v1/models$",
    )
    with make_client(backend, max_retries=3) as client, pytest.raises(InternalServerError):
        client.models.list()
    assert count(backend, "GET", "/v1/models") == 4


def test_quota_is_not_retried(backend):
    """429 insufficient_quota: one request, QuotaExceededError."""
    backend.set_faults(quota=True, path_pattern="^/v1/models$")
    with make_client(backend) as client, pytest.raises(QuotaExceededError):
        client.models.list()
    assert count(backend, "GET", "/v1/models") == 1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_job_lifecycle(backend, train_file, dialect, tmp_path):
    """Create, follow to success (each event once, oldest first), results, completions, models."""
    with make_client(backend, dialect) as client:
        train = client.files.upload_or_reuse(train_file)
        spec = JobSpec(
            model="babbage-002" if dialect == "jobs" else "ada",
            training_file=train.id,
            n_epochs=2,
            suffix="demo",
        )
        job = client.jobs.create(spec, run_key=f"lifecycle-{dialect}")
        assert job.status in (JobStatus.pending, JobStatus.validating, JobStatus.queued)
        updates = list(client.jobs.follow(job.id, **FAST))
        listed = client.jobs.events(job.id)
        final = client.jobs.get(job.id)
        assert final.status is JobStatus.succeeded
        assert final.fine_tuned_model
        assert [u.event.message for u in updates] == [e.message for e in listed]
        assert len({u.event.id for u in updates}) == len(updates)
        assert [u.cursor.seen for u in updates] == list(range(1, len(updates) + 1))
        assert updates[-1].job_status is JobStatus.succeeded
        created_at = [u.event.created_at for u in updates]
        assert created_at == sorted(created_at)
        summary = summarize(fetch_results(client, final))
        assert summary.final_train_loss is not None
        assert client.jobs.find_by_run_key(f"lifecycle-{dialect}").id == job.id
        assert job.id in [j.id for j in client.jobs.list()]
        choices = client.completions.create(
            final.fine_tuned_model,
            ["ticket 1: a question about billing\n\n###\n\n"] * 3,
            max_tokens=1,
            logprobs=2,
        )
        assert [c.index for c in choices] == [0, 1, 2]
        assert choices[0].logprobs and choices[0].logprobs.top_logprobs
        assert final.fine_tuned_model in [m.id for m in client.models.list()]
        assert client.models.delete(final.fine_tuned_model) is True


@pytest.mark.parametrize("dialect", DIALECTS)
def test_create_is_idempotent_per_run_key(backend, train_file, dialect):
    """The same run key twice: one POST, one job."""
    with make_client(backend, dialect) as client:
        spec = JobSpec(
            model="babbage-002", training_file=client.files.upload_or_reuse(train_file).id
        )
        first = client.jobs.create(spec, run_key="same-key")
        again = client.jobs.create(spec, run_key="same-key")
    assert again.id == first.id
    assert count(backend, "POST", "/v1/(fine-tunes|fine_tuning/jobs)") == 1


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("fault", [{"error_rate": 1.0, "error_status": 500}, {"drop_rate": 1.0}])
def test_create_after_ambiguous_failure_makes_one_job(backend, train_file, dialect, fault):
    """5xx or a dropped connection on create: looked up by run key, retried, one job."""
    with make_client(backend, dialect) as setup:
        spec = JobSpec(
            model="babbage-002", training_file=setup.files.upload_or_reuse(train_file).id
        )
    backend.set_faults(
        **{
            **fault,
            "path_pattern": "^/v1/(fine-tunes|fine_tuning/jobs)$",
            "methods": ["POST"],
            "count": 1,
        },
    )
    with make_client(backend, dialect, max_retries=4) as client:
        job = client.jobs.create(spec, run_key="ambiguous")
        mine = [
            j
            for j in client.jobs.list()
            if client.dialect.has_run_key(j, "ambiguous") or j.id == job.id
        ]
    assert [j.id for j in mine] == [job.id]
    assert count(backend, "POST", "/v1/(fine-tunes|fine_tuning/jobs)") == 2


def test_failed_job_carries_the_provider_error(backend, train_file):
    """A job failing mid-training ends the follow; the job has code and message."""
    backend.set_faults(fail_job_at_step=2, fail_job_code="boom")
    with make_client(backend) as client:
        spec = JobSpec(
            model="babbage-002", training_file=client.files.upload_or_reuse(train_file).id
        )
        job = client.jobs.create(spec, run_key="fails")
        updates = list(client.jobs.follow(job.id, **FAST))
        final = client.jobs.get(job.id)
    assert updates[-1].job_status is JobStatus.failed
    assert final.status is JobStatus.failed
    assert final.error is not None and final.error.code == "boom"


def test_cancel_pause_resume_and_checkpoints(backend, train_file):
    """Jobs dialect: pause, resume, cancel; checkpoints after success; legacy has no pause."""
    backend.set_timing(step_seconds=0.05)
    with make_client(backend) as client:
        spec = JobSpec(
            model="babbage-002",
            training_file=client.files.upload_or_reuse(train_file).id,
            n_epochs=3,
        )
        job = client.jobs.create(spec, run_key="controls")
        for update in client.jobs.follow(job.id, **FAST):
            if update.event.type == "metrics" or update.job_status is JobStatus.running:
                break
        assert client.jobs.pause(job.id).status is JobStatus.paused
        assert client.jobs.resume(job.id).status in (JobStatus.queued, JobStatus.running)
        assert client.jobs.cancel(job.id).status is JobStatus.cancelled
        backend.set_timing(step_seconds=0)
        other = client.jobs.create(spec, run_key="checkpoints")
        client.jobs.wait(other.id, **FAST)
        points = client.jobs.checkpoints(other.id)
        assert points and all(p.fine_tuning_job_id == other.id for p in points)
    with make_client(backend, "legacy") as legacy:
        assert legacy.jobs.checkpoints("ft-whatever") == []
        with pytest.raises(ConfigError, match="jobs dialect"):
            legacy.jobs.pause("ft-whatever")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_follow_resumes_from_a_saved_cursor(backend, train_file, dialect):
    """Stop after a few events, persist the cursor as JSON, resume: nothing lost or repeated."""
    with make_client(backend, dialect) as client:
        spec = JobSpec(
            model="babbage-002",
            training_file=client.files.upload_or_reuse(train_file).id,
            n_epochs=2,
        )
        job = client.jobs.create(spec, run_key=f"resume-{dialect}")
        first = []
        for update in client.jobs.follow(job.id, **FAST):
            first.append(update)
            if len(first) == 3:
                break
        saved = first[-1].cursor.model_dump_json()
    with make_client(backend, dialect) as client:  # "after a crash": a new process
        cursor = EventCursor.model_validate(json.loads(saved))
        rest = list(client.jobs.follow(job.id, cursor, **FAST))
        everything = client.jobs.events(job.id)
    got = [u.event.message for u in first + rest]
    assert got == [e.message for e in everything]
    assert rest[0].cursor.seen == 4


def test_async_client_same_surface(backend, train_file):
    """AsyncClient: upload_or_reuse, idempotent create, follow, batched completions."""

    async def scenario() -> tuple[int, int, list[str]]:
        provider = ProviderConfig(kind="local")
        async with AsyncClient(provider, base_url=backend.url) as client:
            train = await client.files.upload_or_reuse(train_file)
            spec = JobSpec(model="babbage-002", training_file=train.id, n_epochs=1)
            job = await client.jobs.create(spec, run_key="async")
            again = await client.jobs.create(spec, run_key="async")
            assert again.id == job.id
            events = [u async for u in client.jobs.follow(job.id, **FAST)]
            final = await client.jobs.get(job.id)
            prompts = [f"ticket {i}: a question about refund\n\n###\n\n" for i in range(5)]
            results = await asyncio.gather(
                *(
                    client.completions.create(final.fine_tuned_model, prompts, max_tokens=1)
                    for _ in range(4)
                )
            )
            return len(events), len(await client.jobs.events(job.id)), [c.text for c in results[0]]

    n_followed, n_events, texts = asyncio.run(scenario())
    assert n_followed == n_events
    assert len(texts) == 5


def test_download_to_missing_dir_and_path_types(backend, train_file, tmp_path: Path):
    """download creates parent folders and accepts str paths."""
    with make_client(backend) as client:
        item = client.files.upload(str(train_file))
        out = client.files.download(item.id, str(tmp_path / "a" / "b" / "c.jsonl"))
    assert out.read_bytes() == train_file.read_bytes()


class LoseAnswers(httpx.BaseTransport):
    """The real transport, but the answers of the first `n` POSTs are lost after the server
    processed them (a timeout on the way back, which the backend cannot stage on purpose)."""

    def __init__(self, n: int) -> None:
        self._inner = httpx.HTTPTransport()
        self.n = n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method == "POST" and self.n > 0:
            self.n -= 1
            response.read()
            raise httpx.ReadTimeout("timed out", request=request)
        return response


@pytest.mark.parametrize("dialect", DIALECTS)
def test_lost_answers_are_found_by_lookup_not_sent_again(backend, train_file, dialect):
    """Upload and create processed but their answers lost: found by hash / run key, one POST each."""
    provider = ProviderConfig(kind="local", dialect=dialect)
    http = httpx.Client(transport=LoseAnswers(2))
    with Client(provider, base_url=backend.url, http_client=http) as client:
        train = client.files.upload_or_reuse(train_file)
        spec = JobSpec(model="babbage-002", training_file=train.id)
        job = client.jobs.create(spec, run_key="lost")
        assert client.jobs.find_by_run_key("lost", spec).id == job.id
    assert count(backend, "POST", "/v1/files") == 1
    assert count(backend, "POST", "/v1/(fine-tunes|fine_tuning/jobs)") == 1


def test_slow_answers_time_out_and_are_retried(backend):
    """The read timeout applies (through the pooled transport); timeouts are retried."""
    backend.set_faults(latency_s=1.0, path_pattern="^/v1/models$")
    with make_client(backend, timeout_s=0.1, max_retries=1) as client:
        started = time.perf_counter()
        with pytest.raises(APITimeoutError):
            client.models.list()
    assert time.perf_counter() - started < 0.9  # two attempts of 0.1 s, not the server's 1 s


def test_a_poll_costs_requests_for_new_events_not_for_history(backend, train_file):
    """Resuming near the end of a finished job reads one short events page, not the history."""
    with make_client(backend) as client:
        spec = JobSpec(
            model="babbage-002", training_file=client.files.upload_or_reuse(train_file).id
        )
        job = client.jobs.create(spec, run_key="cheap-polls")
        updates = list(client.jobs.follow(job.id, **FAST))
        assert len(updates) > 10
        backend.reset_stats()
        assert list(client.jobs.follow(job.id, updates[-1].cursor, **FAST)) == []
        assert list(client.jobs.follow(job.id, updates[-4].cursor, **FAST)) == updates[-3:]
    stats = backend.stats()
    pages = [r["path"] for r in stats["requests"] if r["path"].endswith("/events")]
    assert len(pages) == 4  # per resumed follow: one page, and one for the last moments
    assert count(backend, "GET", r"/v1/fine_tuning/jobs/\{[a-z_]+\}") == 2


def test_follow_survives_an_outage_longer_than_the_retries(backend, train_file):
    """Polls failing beyond a request's retries (dropped, 503) do not end the follow."""
    with make_client(backend, max_retries=1) as client:
        spec = JobSpec(
            model="babbage-002",
            training_file=client.files.upload_or_reuse(train_file).id,
            n_epochs=1,
        )
        job = client.jobs.create(spec, run_key="outage")
        backend.set_faults(
            drop_rate=0.5,
            error_rate=1.0,
            error_status=503,
            count=8,
            path_pattern="/fine_tuning/jobs/",
        )
        updates = list(client.jobs.follow(job.id, **FAST))
        events = client.jobs.events(job.id)
    assert [u.event.id for u in updates] == [e.id for e in events]
    assert updates[-1].job_status is JobStatus.succeeded


class LateArrival(httpx.BaseTransport):
    """The first POST to `path` times out on the client and reaches the server only after the
    retry succeeded (a request stuck in a proxy): the late duplicate the lookup cannot see."""

    def __init__(self, path: str, *, drop_idempotency_key: bool = False) -> None:
        self._inner = httpx.HTTPTransport()
        self._path = path
        self._held: httpx.Request | None = None
        self._done = False
        self._drop_key = drop_idempotency_key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._drop_key:  # a provider that ignores Idempotency-Key
            request.headers.pop("Idempotency-Key", None)
        if request.method == "POST" and request.url.path == self._path and not self._done:
            if self._held is None:
                request.read()
                self._held = request
                raise httpx.ReadTimeout("timed out", request=request)
            response = self._inner.handle_request(request)
            response.read()
            self._inner.handle_request(self._held).read()  # the stuck one arrives now
            self._done = True
            return response
        return self._inner.handle_request(request)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("honours_key", [True, False])
def test_a_late_duplicate_create_leaves_one_live_job(backend, train_file, dialect, honours_key):
    """A create that arrives after its retry: a provider honouring Idempotency-Key answers with
    the same job; one that ignores it makes a second job, which the client cancels."""
    provider = ProviderConfig(kind="local", dialect=dialect)
    with make_client(backend, dialect) as setup:
        spec = JobSpec(
            model="babbage-002", training_file=setup.files.upload_or_reuse(train_file).id
        )
    path = "/v1/fine_tuning/jobs" if dialect == "jobs" else "/v1/fine-tunes"
    transport = LateArrival(path, drop_idempotency_key=not honours_key)
    with Client(
        provider, base_url=backend.url, http_client=httpx.Client(transport=transport)
    ) as client:
        job = client.jobs.create(spec, run_key="late")
        jobs = client.jobs.list()
    assert len(jobs) == (1 if honours_key else 2)
    live = [j for j in jobs if j.status is not JobStatus.cancelled]
    assert [j.id for j in live] == [job.id]


def test_a_late_duplicate_upload_is_deleted(backend, train_file):
    """An upload that arrives after its retry is deleted; one copy of the content remains."""
    http = httpx.Client(transport=LateArrival("/v1/files"))
    with Client(ProviderConfig(kind="local"), base_url=backend.url, http_client=http) as client:
        item = client.files.upload_or_reuse(train_file)
        assert [f.id for f in client.files.list()] == [item.id]


def test_chat_completions_with_logprobs(backend):
    """Chat completions on a served chat model: choices by index, logprobs when asked."""
    messages = [{"role": "user", "content": "my parcel never arrived"}]
    with make_client(backend) as client:
        choices = client.chat.create(
            "gpt-4o-mini-2024-07-18", messages, max_tokens=3, logprobs=True, top_logprobs=2, n=2
        )
    assert [c.index for c in choices] == [0, 1]
    assert all(c.role == "assistant" and c.content is not None for c in choices)
    assert choices[0].logprobs is not None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_follow_gives_up_after_its_timeout_and_says_the_job_runs_on(backend, train_file, dialect):
    """A bounded follow of a job stuck in the queue stops in time; the message says so."""
    backend.set_timing(queue_seconds=60)
    with make_client(backend, dialect) as client:
        spec = JobSpec(
            model="babbage-002", training_file=client.files.upload_or_reuse(train_file).id
        )
        job = client.jobs.create(spec, run_key=f"stuck-{dialect}")
        started = time.perf_counter()
        seen = []
        with pytest.raises(APITimeoutError, match="keeps running") as info:
            for update in client.jobs.follow(job.id, timeout_s=0.5, **FAST):
                seen.append(update)
        assert time.perf_counter() - started < 3
        assert f"ftkit jobs follow {job.id}" in str(info.value)
        assert seen  # the events so far were delivered before giving up


def test_async_client_streams_legacy_events_and_files(backend, train_file, tmp_path):
    """AsyncClient: legacy SSE follow (resumed from a cursor), upload progress, streamed download."""

    async def scenario() -> None:
        provider = ProviderConfig(kind="local", dialect="legacy")
        async with AsyncClient(provider, base_url=backend.url) as client:
            progress: list[int] = []
            train = await client.files.upload(train_file, progress=lambda d, t: progress.append(d))
            assert progress[-1] == train_file.stat().st_size
            copy = await client.files.download(train.id, tmp_path / "copy.jsonl")
            assert copy.read_bytes() == train_file.read_bytes()
            spec = JobSpec(model="ada", training_file=train.id, n_epochs=1)
            job = await client.jobs.create(spec, run_key="async-legacy")
            first = []
            async for update in client.jobs.follow(job.id, **FAST):
                first.append(update)
                if len(first) == 2:
                    break
            rest = [u async for u in client.jobs.follow(job.id, first[-1].cursor, **FAST)]
            events = await client.jobs.events(job.id)
            assert [u.event.message for u in first + rest] == [e.message for e in events]
            assert rest[-1].job_status is JobStatus.succeeded

    asyncio.run(scenario())
