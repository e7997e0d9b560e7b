"""A hostile provider cannot make `ftkit run` write outside its run folder.

The provider here is a real HTTP server on loopback: a proxy in front of the embedded backend
that renames every job's result files to `../../../../PWNED` and serves the real results
under any path that asks for that name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ftkit.backend.server import running_app
from tests.e2e.test_pipeline import run_cli

HOSTILE = "../../../../PWNED"


def renaming_proxy(upstream: str) -> Starlette:
    """Forwards to `upstream` (a base URL ending in /v1); rewrites job objects' result files."""
    real_ids: list[str] = []

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=60) as http:
            if "PWNED" in request.url.path and real_ids:
                answer = await http.get(f"{upstream}/files/{real_ids[0]}/content")
                return Response(answer.content, answer.status_code)
            path = request.url.path.removeprefix("/v1")
            answer = await http.request(
                request.method,
                upstream + path,
                params=request.query_params,
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
        body, kind = answer.content, answer.headers.get("content-type", "")
        if kind.startswith("application/json") and b'"result_files"' in body:
            body = _renamed(answer.json(), real_ids)
        return Response(body, answer.status_code, media_type=kind or None)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "DELETE"])])


def _renamed(payload: object, real_ids: list[str]) -> bytes:
    import orjson

    items = payload.get("data", [payload]) if isinstance(payload, dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("result_files"):
            first = item["result_files"][0]
            real_ids[:] = [first["id"] if isinstance(first, dict) else first]
            item["result_files"] = [HOSTILE]
    return orjson.dumps(payload)


@pytest.fixture
def hostile_url(backend) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The base URL of the renaming proxy in front of the test backend."""
    with running_app(renaming_proxy(backend.url)) as port:
        yield f"http://127.0.0.1:{port}/v1"


@pytest.mark.slow
def test_result_files_named_outside_the_run_folder_are_refused(
    hostile_url: str, tmp_path: Path
) -> None:
    """The run fails with one clear line naming the result file; nothing lands outside the
    run folder (no PWNED file anywhere under the test's folder)."""
    from tests.e2e.conftest import QUICKSTART

    runs = tmp_path / "deep" / "er" / "runs"
    code, _, err = run_cli(
        "run", str(QUICKSTART), f"runs_dir={runs}", f"provider.base_url={hostile_url}"
    )
    assert code == 1, err
    assert "not a plain file name" in err or "is a path" in err
    assert HOSTILE in err or repr(HOSTILE) in err
    assert "Traceback" not in err
    assert [p for p in tmp_path.rglob("*PWNED*")] == []
