"""What the embedded backend cannot produce, through httpx.MockTransport: Azure-shaped answers,
odd statuses, error bodies echoing the key, and every httpx failure mapped to ftkit's tree."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from ftkit.api import Client, JobStatus
from ftkit.api._mapping import Redactor, map_transport_errors
from ftkit.api.providers import resolve_endpoint
from ftkit.config import ProviderConfig
from ftkit.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigError,
    InternalServerError,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
)

KEY = "sk-test-SECRETSECRETSECRET1234"


def mock_client(handler, provider: ProviderConfig | None = None, **kw) -> Client:
    provider = provider or ProviderConfig(kind="compatible", base_url="https://x.test/v1")
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Client(provider, api_key=KEY, http_client=http, **kw)


def error(status: int, message: str, code: str | None = None, **headers: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "x", "param": None, "code": code}}
    return httpx.Response(status, json=body, headers={"x-request-id": "req_1", **headers})


AZURE_JOB = {
    "id": "ftjob-azure1",
    "object": "fine_tuning.job",
    "model": "gpt-35-turbo-0613",
    "status": "succeeded",
    "created_at": 1,
    "finished_at": 2,
    "fine_tuned_model": "gpt-35-turbo-0613.ft-abc",
    "training_file": "file-1",
    "validation_file": None,
    "result_files": None,
    "hyperparameters": {"n_epochs": 2},
    "trained_tokens": 10,
    "error": {"code": None, "message": None, "param": None},
    "metadata": None,
    "seed": 3,
}


def test_azure_uses_api_key_header_api_version_and_tolerates_nulls(monkeypatch):
    """Azure: `api-key` header, `api-version` query; null result_files and all-null error are empty."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=AZURE_JOB)

    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    provider = ProviderConfig(
        kind="azure", base_url="https://r.openai.azure.com/openai", api_version="2024-10-21"
    )
    http = httpx.Client(transport=httpx.MockTransport(handler))
    job = Client(provider, http_client=http).jobs.get("ftjob-azure1")
    assert seen[0].headers["api-key"] == KEY
    assert "authorization" not in seen[0].headers
    assert seen[0].url.params["api-version"] == "2024-10-21"
    assert job.status is JobStatus.succeeded
    assert job.result_files == []
    assert job.error is None
    assert job.metadata == {}


def test_azure_completions_address_the_deployment(monkeypatch):
    """Azure completions go to /deployments/<model>/completions."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/openai/deployments/my-dep/completions"
        return httpx.Response(200, json={"choices": [{"index": 0, "text": " x", "logprobs": None}]})

    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    provider = ProviderConfig(kind="azure", base_url="https://r.openai.azure.com/openai")
    http = httpx.Client(transport=httpx.MockTransport(handler))
    choices = Client(provider, http_client=http).completions.create("my-dep", ["hi"])
    assert [c.text for c in choices] == [" x"]


def test_azure_file_status_succeeded_means_processed():
    """Azure reports processed files as `succeeded` and may omit `bytes`."""
    body = {"id": "file-a", "filename": "t.jsonl", "purpose": "fine-tune", "status": "succeeded"}
    client = mock_client(lambda r: httpx.Response(200, json=body))
    assert client.files.wait_processed("file-a").status == "processed"


def test_keys_come_from_the_environment_only(monkeypatch):
    """openai without its key variable is a ConfigError naming the variable; local needs none."""
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(ConfigError, match="MY_KEY"):
        resolve_endpoint(ProviderConfig(kind="openai", api_key_env="MY_KEY"))
    monkeypatch.setenv("MY_KEY", KEY)
    endpoint = resolve_endpoint(ProviderConfig(kind="openai", api_key_env="MY_KEY"))
    assert endpoint.headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(endpoint)
    local = resolve_endpoint(ProviderConfig(kind="local"), base_url="http://127.0.0.1:1/v1")
    assert "Authorization" not in local.headers


def test_quota_429_is_not_retried():
    """429 insufficient_quota surfaces at once as QuotaExceededError."""
    calls = []

    def handler(request):
        calls.append(request)
        return error(429, "You exceeded your current quota.", "insufficient_quota")

    with pytest.raises(QuotaExceededError) as info:
        mock_client(handler).models.list()
    assert len(calls) == 1
    assert info.value.request_id == "req_1"


def test_rate_limit_is_retried_then_raised(monkeypatch):
    """A plain 429 is retried max_retries times, then RateLimitError."""
    calls = []

    def handler(request):
        calls.append(request)
        return error(429, "Rate limit reached.", "rate_limit_exceeded", **{"retry-after-ms": "1"})

    with pytest.raises(RateLimitError) as info:
        mock_client(handler, max_retries=3).models.list()
    assert len(calls) == 4
    assert not isinstance(info.value, QuotaExceededError)


def test_x_should_retry_false_stops_retries():
    """x-should-retry: false beats the 5xx rule."""
    calls = []

    def handler(request):
        calls.append(request)
        return error(503, "overloaded", **{"x-should-retry": "false"})

    with pytest.raises(InternalServerError):
        mock_client(handler).models.list()
    assert len(calls) == 1


def test_non_json_5xx_is_a_server_error():
    """A proxy's HTML 502 still maps to InternalServerError with the status."""
    client = mock_client(
        lambda r: httpx.Response(502, text="<html>bad gateway</html>"), max_retries=0
    )
    with pytest.raises(InternalServerError) as info:
        client.models.list()
    assert info.value.status_code == 502


def test_status_errors_carry_param_code_and_request_id():
    """A 404 carries the provider's param/code and the request id."""
    body = {
        "error": {
            "message": "No such File object: file-x",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }
    }
    client = mock_client(
        lambda r: httpx.Response(404, json=body, headers={"x-request-id": "req_9"})
    )
    with pytest.raises(NotFoundError) as info:
        client.files.get("file-x")
    assert (info.value.param, info.value.request_id) == ("id", "req_9")
    assert "No such File object: file-x" in str(info.value)


def test_the_key_never_appears_in_exceptions_or_logs(caplog):
    """An error body echoing the key, and DEBUG logs, never show it."""
    caplog.set_level(logging.DEBUG)

    def handler(request):
        return error(401, f"Incorrect API key provided: {KEY}.", "invalid_api_key")

    client = mock_client(handler)
    with pytest.raises(AuthenticationError) as info:
        client.files.list()
    texts = [str(info.value), repr(info.value), repr(client), *info.value.args]
    texts += [record.getMessage() for record in caplog.records]
    assert texts
    for text in texts:
        assert KEY not in text
        assert "SECRETSECRET" not in text


def test_connection_failures_are_retried_and_mapped():
    """Dropped connections are retried, then APIConnectionError; timeouts APITimeoutError."""
    calls = []

    def drop(request):
        calls.append(request)
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    with pytest.raises(APIConnectionError):
        mock_client(drop, max_retries=2).models.list()
    assert len(calls) == 3

    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(APITimeoutError):
        mock_client(slow, max_retries=0).models.list()


def _httpx_subclasses(base: type) -> list[type]:
    """httpx's own subclasses of `base`; other libraries' (Prefect's) would vary with imports."""
    out = []
    for cls in base.__subclasses__():
        if cls.__module__.startswith("httpx"):
            out.append(cls)
            out.extend(_httpx_subclasses(cls))
    return out


@pytest.mark.parametrize(
    "exc_type",
    [c for c in _httpx_subclasses(httpx.HTTPError) if c is not httpx.HTTPStatusError]
    + _httpx_subclasses(httpx.StreamError),
)
def test_every_httpx_exception_is_mapped(exc_type):
    """No httpx exception escapes the boundary unmapped (like httpx's own mapping test)."""
    request = httpx.Request("GET", "https://x.test")
    if issubclass(exc_type, httpx.StreamError):
        exc = exc_type()
    else:
        exc = exc_type("boom", request=request)
    with pytest.raises(APIConnectionError), map_transport_errors(Redactor(KEY), "test"):
        raise exc


def test_error_json_never_raises_on_odd_bodies():
    """An error body that is a string or a list still maps to a typed error."""
    for body in ('"oops"', "[1,2]", '{"error": "plain text"}'):
        client = mock_client(lambda r, b=body: httpx.Response(418, content=b), max_retries=0)
        with pytest.raises(APIStatusError) as info:
            client.models.list()
        assert info.value.status_code == 418


def test_job_create_sends_only_set_parameters():
    """No nulls on the wire: only the parameters that are set, plus the run key."""
    bodies = []

    def handler(request):
        if request.method == "POST":
            bodies.append(json.loads(request.content))
            return httpx.Response(200, json={**AZURE_JOB, "status": "validating_files"})
        return httpx.Response(200, json={"object": "list", "data": [], "has_more": False})

    from ftkit.api import JobSpec

    job = mock_client(handler).jobs.create(
        JobSpec(model="babbage-002", training_file="file-1", n_epochs=2), run_key="rk-1"
    )
    assert job.status is JobStatus.validating
    assert bodies == [
        {
            "model": "babbage-002",
            "training_file": "file-1",
            "hyperparameters": {"n_epochs": 2},
            "metadata": {"ftkit_run_key": "rk-1"},
        }
    ]


def test_daily_limit_is_a_quota_error():
    """A 429 for a per-day limit is a QuotaExceededError (waiting seconds will not help)."""
    message = "Rate limit reached for babbage-002 on requests per day (RPD): Limit 200, Used 200."
    client = mock_client(lambda r: error(429, message, "rate_limit_exceeded"))
    with pytest.raises(QuotaExceededError):
        client.models.list()


def test_retry_after_beyond_120_s_is_not_retried():
    """A server asking to wait more than 120 s gets no retry: RateLimitError at once."""
    calls = []

    def handler(request):
        calls.append(request)
        return error(429, "Slow down.", "rate_limit_exceeded", **{"retry-after": "300"})

    with pytest.raises(RateLimitError):
        mock_client(handler).models.list()
    assert len(calls) == 1


def test_follow_labels_events_with_a_status_seen_after_them():
    """A job ending between the events read and the job read: its last events still arrive,
    and the final update carries the terminal status (a race the backend cannot stage)."""
    events = [
        {"id": f"ev{i}", "created_at": i, "level": "info", "message": f"m{i}"} for i in range(3)
    ]
    job = {"id": "ftjob-1", "status": "running"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            newest_first = events[::-1]
            after = request.url.params.get("after")
            if after:
                newest_first = newest_first[[e["id"] for e in newest_first].index(after) + 1 :]
            limit = int(request.url.params.get("limit", 20))
            page = newest_first[:limit]
            return httpx.Response(200, json={"data": page, "has_more": len(newest_first) > limit})
        if job["status"] == "running" and len(events) == 3:
            job["status"] = "succeeded"  # ends right after the events were read
            events.append({"id": "ev3", "created_at": 3, "level": "info", "message": "done"})
        return httpx.Response(200, json=job)

    updates = list(mock_client(handler).jobs.follow("ftjob-1", poll_interval_s=0))
    assert [u.event.message for u in updates] == ["m0", "m1", "m2", "done"]
    assert {u.job_status for u in updates} == {JobStatus.succeeded}
