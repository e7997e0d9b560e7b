"""`Idempotency-Key` on creates: the client derives it from the run key and the embedded backend
honours it, so even two creates racing past the run-key lookup make one job."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from ftkit.api import Client, JobSpec
from ftkit.config import ProviderConfig

from .conftest import count, make_client

T = TypeVar("T")
CREATE_PATHS = {"jobs": "/fine_tuning/jobs", "legacy": "/fine-tunes"}
LIST_OR_CREATE = "^/v1/(fine-tunes|fine_tuning/jobs)$"


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


class PostTogether(httpx.HTTPTransport):
    """Real HTTP, but a job create waits until the other runner's create is ready too: both
    runners are past their run-key lookup before either job exists (a deterministic race)."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self._barrier = barrier

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(tuple(CREATE_PATHS.values())):
            self._barrier.wait(30)
        return super().handle_request(request)


def racing_clients(backend: Any, dialect: str) -> list[Client]:
    """Two clients whose job creates go out together."""
    barrier = threading.Barrier(2)
    provider = ProviderConfig(kind="local", dialect=dialect)
    return [
        Client(provider, base_url=backend.url, http_client=httpx.Client(transport=transport))
        for transport in (PostTogether(barrier), PostTogether(barrier))
    ]


def uploaded(backend: Any, train_file: Path, dialect: str) -> str:
    """The id of the training file, uploaded once."""
    with make_client(backend, dialect) as client:
        return client.files.upload_or_reuse(train_file).id


@pytest.mark.parametrize("dialect", ["jobs", "legacy"])
def test_two_racing_creates_with_one_key_make_one_job(
    backend: Any, train_file: Path, dialect: str
) -> None:
    """Same key, same body, sent at the same moment: both answers name the same job, and the
    backend holds one job; the same key with another body is a 409."""
    url = backend.url + CREATE_PATHS[dialect]
    body = {"model": "babbage-002", "training_file": uploaded(backend, train_file, dialect)}
    headers = {"Idempotency-Key": "race-1"}

    def create() -> httpx.Response:
        return httpx.post(url, json=body, headers=headers, timeout=30)

    answers = at_once(create, create, create)
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(httpx.get(url).json()["data"]) == 1
    reused = httpx.post(url, json={**body, "suffix": "other"}, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert len(httpx.get(url).json()["data"]) == 1


@pytest.mark.parametrize("dialect", ["jobs", "legacy"])
def test_two_runners_of_one_run_key_racing_past_the_lookup_make_one_job(
    backend: Any, train_file: Path, dialect: str
) -> None:
    """Both runners look the run key up, find nothing and create at the same moment: the
    client's Idempotency-Key (from the run key) still leaves one job, which both get."""
    spec = JobSpec(model="babbage-002", training_file=uploaded(backend, train_file, dialect))
    one, two = racing_clients(backend, dialect)
    with one, two:
        first, second = at_once(
            lambda: one.jobs.create(spec, run_key="racing-run-key").id,
            lambda: two.jobs.create(spec, run_key="racing-run-key").id,
        )
    assert first == second
    assert count(backend, "POST", LIST_OR_CREATE.strip("^$")) == 2
    with make_client(backend, dialect) as client:
        assert [job.id for job in client.jobs.list()] == [first]


def test_a_runner_whose_uploads_differ_attaches_to_the_run_keys_job(
    backend: Any, train_file: Path, tmp_path: Path
) -> None:
    """Two racing runners that uploaded separately send one key with different bodies: one
    creates, the other gets the 409 and attaches to that job instead of failing."""
    copy = tmp_path / "copy" / train_file.name
    copy.parent.mkdir()
    copy.write_bytes(train_file.read_bytes() + b"\n")
    specs = [
        JobSpec(model="babbage-002", training_file=uploaded(backend, path, "jobs"))
        for path in (train_file, copy)
    ]
    assert specs[0].training_file != specs[1].training_file
    one, two = racing_clients(backend, "jobs")
    with one, two:
        first, second = at_once(
            lambda: one.jobs.create(specs[0], run_key="k").id,
            lambda: two.jobs.create(specs[1], run_key="k").id,
        )
    assert first == second
    creates = [r for r in backend.stats()["requests"] if r["route"] == "/v1/fine_tuning/jobs"]
    assert sorted(r["status"] for r in creates if r["method"] == "POST") == [200, 409]
