"""The HTTP surface old and new clients read: rate-limit headers, Allow on 405, /openapi.json,
and schemathesis generating requests from that description and checking every response."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ftkit.backend.ratelimits import go_duration

CASES_PER_OPERATION = 8


@pytest.fixture(scope="module")
def api_schema(shared_backend: Any) -> Any:
    """The backend's own /openapi.json, loaded by schemathesis."""
    return schemathesis.openapi.from_url(shared_backend.root + "/openapi.json")


def test_model_endpoints_send_rate_limit_headers(shared_api: httpx.Client) -> None:
    """Limits, what remains in the minute, and when it is replenished, on every model call."""
    body = {"model": "babbage-002", "prompt": "Hi", "max_tokens": 1}
    first = shared_api.post("/completions", json=body).headers
    second = shared_api.post("/completions", json=body).headers
    assert first["x-ratelimit-limit-requests"] == "10000"
    remaining = int(first["x-ratelimit-remaining-requests"])
    assert int(second["x-ratelimit-remaining-requests"]) == remaining - 1
    assert int(second["x-ratelimit-remaining-tokens"]) < int(first["x-ratelimit-limit-tokens"])
    assert second["x-ratelimit-reset-requests"].endswith("ms")
    assert "x-ratelimit-limit-requests" not in shared_api.get("/models").headers


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.02, "20ms"), (1, "1s"), (17.28, "17.28s"), (360, "6m0s")]
)
def test_durations_are_go_style(seconds: float, text: str) -> None:
    """The duration spelling OpenAI's headers use."""
    assert go_duration(seconds) == text


def test_405_lists_the_allowed_methods(shared_api: httpx.Client) -> None:
    """Every method served at the path, across routes (GET and DELETE live on two)."""
    response = shared_api.put("/models/babbage-002")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_openapi_documents_400_errors_uploads_and_bodies(shared_backend: Any) -> None:
    """No 422 anywhere; the upload's multipart body and the response objects are described."""
    document = httpx.get(shared_backend.root + "/openapi.json").json()
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    assert not any("422" in op["responses"] for op in operations)
    assert all("default" in op["responses"] for op in operations)
    upload = document["paths"]["/v1/files"]["post"]["requestBody"]["content"]
    assert set(upload["multipart/form-data"]["schema"]["properties"]) == {"file", "purpose"}
    chat = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert chat["application/json"]["schema"]["$ref"].endswith("/ChatCompletion")
    assert "/v1/engines" in document["paths"] and "/v1/embeddings" in document["paths"]


def test_schemathesis_finds_no_server_error_or_undocumented_response(api_schema: Any) -> None:
    """Generated requests to every operation: no 500, every status and body as documented.

    A bounded number of cases per operation keeps this under a minute on 2 cores. Not checked:
    that every schema-valid request is accepted, since some rules are about content the schema
    cannot express (an upload's JSON lines, best_of >= n).
    """
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as error:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
