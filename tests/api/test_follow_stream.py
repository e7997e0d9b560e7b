"""Legacy SSE following survives dropped streams on its own; the key never leaks."""

from __future__ import annotations

import logging

import httpx
import pytest

from ftkit.api import Client, JobSpec, JobStatus
from ftkit.backend.settings import BackendSettings
from ftkit.backend.testing import started_backend
from ftkit.config import ProviderConfig
from ftkit.errors import AuthenticationError

from .conftest import count, make_client, write_training_file

FAST = {"poll_interval_s": 0.02, "max_poll_interval_s": 0.2}


class CutStreams(httpx.BaseTransport):
    """The real transport, but the first `cuts` SSE responses break after `after_lines` lines
    (a connection dropping mid-stream, which the backend cannot do on purpose)."""

    def __init__(self, cuts: int, after_lines: int) -> None:
        self._inner = httpx.HTTPTransport()
        self.cuts = cuts
        self.after_lines = after_lines

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self.cuts <= 0 or request.url.params.get("stream") != "true":
            return response
        self.cuts -= 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Cut(response.stream, self.after_lines, request),
        )

    def close(self) -> None:
        self._inner.close()


class _Cut(httpx.SyncByteStream):
    def __init__(self, inner, lines: int, request: httpx.Request) -> None:
        self._inner, self._lines, self._request = inner, lines, request

    def __iter__(self):
        sent = 0
        for chunk in self._inner:
            for line in chunk.splitlines(keepends=True):
                if sent >= self._lines:
                    raise httpx.ReadError("connection reset by peer", request=self._request)
                sent += 1
                yield line

    def close(self) -> None:
        self._inner.close()


def _job(backend, tmp_path, run_key: str) -> tuple[JobSpec, str]:
    with make_client(backend, "legacy") as client:
        train = client.files.upload_or_reuse(write_training_file(tmp_path / "t.jsonl"))
        job = client.jobs.create(JobSpec(model="ada", training_file=train.id, n_epochs=2), run_key)
    return job.id


def test_sse_reconnects_after_mid_stream_drops(backend, tmp_path):
    """Streams cut mid-way twice: the follow reconnects itself; every event once, in order."""
    job_id = _job(backend, tmp_path, "sse-cut")
    transport = CutStreams(cuts=2, after_lines=5)
    provider = ProviderConfig(kind="local", dialect="legacy")
    with Client(provider, base_url=backend.url, http_client=httpx.Client(transport=transport)) as c:
        updates = list(c.jobs.follow(job_id, **FAST))
        events = c.jobs.events(job_id)
    assert transport.cuts == 0
    assert [u.event.message for u in updates] == [e.message for e in events]
    assert updates[-1].job_status is JobStatus.succeeded
    assert count(backend, "GET", r"/v1/fine-tunes/\{[a-z_]+\}/events") >= 3


def test_sse_reconnects_when_the_connection_drops_at_open(backend, tmp_path):
    """A stream request dropped before any answer is reopened; nothing lost or repeated."""
    job_id = _job(backend, tmp_path, "sse-drop")
    backend.set_faults(drop_rate=1.0, path_pattern="/events$", count=2)
    with make_client(backend, "legacy") as client:
        updates = list(client.jobs.follow(job_id, **FAST))
        events = client.jobs.events(job_id)
    assert [u.event.message for u in updates] == [e.message for e in events]


KEY = "sk-ftkit-test-0123456789abcdefSECRET"


def test_the_key_never_appears_in_errors_or_logs(tmp_path, monkeypatch, caplog):
    """With a keyed backend: the right key works, a wrong one fails, and no text shows either."""
    caplog.set_level(logging.DEBUG)
    settings = BackendSettings(data_dir=tmp_path / "keyed", api_keys=[KEY])
    wrong = KEY[:-6] + "WRONG!"
    with started_backend(settings) as server:
        monkeypatch.setenv("FTKIT_TEST_KEY", KEY)
        provider = ProviderConfig(kind="local", api_key_env="FTKIT_TEST_KEY")
        with Client(provider, base_url=server.url) as client:
            assert client.models.list()
            client.files.upload(write_training_file(tmp_path / "t.jsonl"))
        monkeypatch.setenv("FTKIT_TEST_KEY", wrong)
        with Client(provider, base_url=server.url) as client:
            with pytest.raises(AuthenticationError) as info:
                client.files.list()
            texts = [str(info.value), repr(info.value), repr(client), repr(client.endpoint)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    assert any("files" in text for text in texts)
    for text in texts:
        for secret in (KEY, wrong, "0123456789abcdef"):
            assert secret not in text
