"""Fault injection and request statistics (the /_ftkit admin endpoints)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.conftest import DONE, upload, wait_for


def test_rate_limit_with_retry_headers(backend: Any, api: httpx.Client) -> None:
    """429 rate_limit_exceeded with retry-after, retry-after-ms, x-should-retry, request id."""
    backend.set_faults(error_rate=1.0, retry_after_s=2, retry_after_ms=1500, x_should_retry=True)
    response = api.get("/files")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.json()["error"]["type"] == "requests"
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("2", "1500")
    assert response.headers["x-should-retry"] == "true"
    assert response.headers["x-request-id"].startswith("req_")
    backend.clear_faults()
    assert api.get("/files").status_code == 200


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (500, "The server had an error while processing your request. Sorry about that!"),
        (503, "The engine is currently overloaded, please try again later."),
    ],
)
def test_server_errors(backend: Any, api: httpx.Client, status: int, message: str) -> None:
    """500 and 503 in OpenAI's shape."""
    backend.set_faults(error_rate=1.0, error_status=status)
    response = api.get("/models")
    assert response.status_code == status
    assert response.json()["error"] == {
        "message": message,
        "type": "server_error",
        "param": None,
        "code": None,
    }


def test_quota_exhausted(backend: Any, api: httpx.Client) -> None:
    """quota=True: 429 insufficient_quota, no retry-after."""
    backend.set_faults(quota=True, retry_after_s=1)
    response = api.get("/models")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert "retry-after" not in response.headers


def test_dropped_connection_gives_the_client_no_response(backend: Any, api: httpx.Client) -> None:
    """drop_rate=1: the socket closes without a status line (a transport error, not a 500)."""
    backend.set_faults(drop_rate=1.0, count=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("/models")
    assert api.get("/models").status_code == 200
    assert [r["status"] for r in backend.stats()["requests"] if r["path"] == "/v1/models"] == [
        0,
        200,
    ]


def test_latency_is_added(backend: Any, api: httpx.Client) -> None:
    """latency_s delays matching requests."""
    backend.set_faults(latency_s=0.3, path_pattern=r"/models$")
    started = time.perf_counter()
    assert api.get("/models").status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    api.get("/files")
    assert time.perf_counter() - started < 0.3


def test_only_the_next_n_matching_requests(backend: Any, api: httpx.Client) -> None:
    """count=2 with a path and method filter: exactly the next two matching requests fail."""
    backend.set_faults(
        error_rate=1.0, error_status=500, count=2, path_pattern="^/v1/files", methods=["GET"]
    )
    assert api.get("/models").status_code == 200
    assert [api.get("/files").status_code for _ in range(3)] == [500, 500, 200]


def test_seeded_error_rate_is_reproducible(backend: Any, api: httpx.Client) -> None:
    """The same seed gives the same sequence of failures; the rate is roughly honoured."""

    def run() -> list[int]:
        backend.set_faults(error_rate=0.5, error_status=503, seed=11)
        return [api.get("/models").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 8 < first.count(503) < 32


def test_fault_plan_fails_jobs_at_a_step(backend: Any, api: httpx.Client, train_file: Path) -> None:
    """fail_job_at_step: jobs started meanwhile fail with the scripted code and message."""
    backend.set_faults(
        fail_job_at_step=3, fail_job_code="boom", fail_job_message="Failed at {step}."
    )
    file = upload(api, train_file)
    job = api.post(
        "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
    ).json()
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["error"] == {"code": "boom", "message": "Failed at 3.", "param": None}


def test_stats_count_requests_per_route(backend: Any, api: httpx.Client) -> None:
    """Counts per METHOD + route template, bytes; reset empties them; admin calls not faulted."""
    backend.reset_stats()
    api.get("/files")
    api.get("/files/file-x")
    api.get("/files/file-y")
    stats = backend.stats()
    assert stats["counts"]["GET /v1/files"] == 1
    assert stats["counts"]["GET /v1/files/{file_id}"] == 2
    assert stats["total"] == 3 and stats["bytes_out"] > 0
    assert [r["status"] for r in stats["requests"]] == [200, 404, 404]
    backend.set_faults(error_rate=1.0)
    assert backend.stats()["total"] == 3
    backend.reset_stats()
    assert backend.stats()["total"] == 0


def test_timing_keeps_a_job_queued(backend: Any, api: httpx.Client, train_file: Path) -> None:
    """queue_seconds holds a job in `queued`; lowering it at run time lets it start."""
    assert backend.set_timing(queue_seconds=30)["queue_seconds"] == 30
    file = upload(api, train_file)
    job = api.post(
        "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
    ).json()
    wait_for(api, f"/fine_tuning/jobs/{job['id']}", ("queued",))
    time.sleep(0.3)
    assert api.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "queued"
    backend.set_timing(time_scale=0)
    assert wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)["status"] == "succeeded"


def test_invalid_fault_plans_are_rejected(backend: Any) -> None:
    """A plan with an unknown field or an out-of-range rate: 400."""
    for plan in ({"error_rate": 2}, {"error_status": 418}, {"nonsense": 1}):
        assert backend.http.post(backend.root + "/_ftkit/faults", json=plan).status_code == 400
