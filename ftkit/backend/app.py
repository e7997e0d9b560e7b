"""`create_app(settings)`: the FastAPI application of the embedded backend (no module globals)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ftkit.backend.auth import KeyRing
from ftkit.backend.errors import error_response, not_found, validation_error
from ftkit.backend.faults import FaultInjector, RequestContextMiddleware, RequestStats
from ftkit.backend.openapi import allowed_methods, openapi_schema
from ftkit.backend.ratelimits import RateLimitHeaders
from ftkit.backend.routes import (
    admin,
    completions,
    embeddings,
    files,
    fine_tunes,
    fine_tuning,
    models,
    moderations,
)
from ftkit.backend.runner import JobRunner
from ftkit.backend.serving import ModelCache
from ftkit.backend.settings import BackendSettings
from ftkit.backend.state import BackendState
from ftkit.backend.store import Store
from ftkit.errors import APIStatusError, BadRequestError


def create_app(settings: BackendSettings) -> FastAPI:
    """The backend app: its store opens and its job runner starts with the app's lifespan."""
    faults = FaultInjector(settings.faults)
    stats = RequestStats()
    keys = KeyRing(settings.api_keys)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.data_dir)
        timing = settings.timing()
        runner = JobRunner(
            store,
            timing=timing,
            faults=faults,
            max_running=settings.max_running_jobs,
            base64_results=settings.base64_job_results,
        )
        app.state.backend = BackendState(
            settings=settings,
            store=store,
            runner=runner,
            models=ModelCache(store),
            keys=keys,
            faults=faults,
            stats=stats,
            timing=timing,
        )
        runner.start()
        try:
            yield
        finally:
            app.state.backend.shutting_down = True
            runner.stop()
            store.close()

    app = FastAPI(
        title="ftkit backend",
        summary="OpenAI-compatible files, fine-tuning and completions, trained locally.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    routers = (files, fine_tunes, fine_tuning, models, completions, embeddings, moderations)
    for module in routers:
        app.include_router(module.router)
    if settings.admin_enabled:
        app.include_router(admin.router)

    @app.exception_handler(APIStatusError)
    async def api_error(request: Request, exc: APIStatusError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return error_response(validation_error(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            error = not_found(f"Invalid URL ({request.method} {request.url.path})", param=None)
            return error_response(error)
        headers = (
            {"Allow": allowed_methods(app, request.url.path)} if exc.status_code == 405 else None
        )
        return error_response(
            BadRequestError(
                f"{exc.detail} ({request.method} {request.url.path})",
                status_code=exc.status_code,
                type="invalid_request_error",
            ),
            headers,
        )

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> dict[str, Any]:
        return openapi_schema(app)

    app.add_middleware(RateLimitHeaders)
    app.add_middleware(RequestContextMiddleware, stats=stats, faults=faults, keys=keys)
    return app
