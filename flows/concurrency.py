"""`provider.max_concurrent_jobs` as a Prefect global concurrency limit.

A provider caps the jobs one account runs at once (more get 429s). Every pipeline run holds one
slot of the limit `ftkit-jobs-<provider>` from job creation (or re-attachment) until its job
ends, so sweep trials, on one machine or on many workers of one Prefect server, wait for a slot
instead of failing. A run that detaches after creating its job gives its slot back then.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect import get_client
from prefect.concurrency.asyncio import concurrency

from ftkit.config import ProviderConfig


def limit_name(provider: ProviderConfig) -> str:
    """The limit's name: one per provider kind and base URL (the URL only as a hash)."""
    name = f"ftkit-jobs-{provider.kind}"
    if provider.base_url:
        name += "-" + hashlib.sha256(provider.base_url.encode()).hexdigest()[:8]
    return name


@asynccontextmanager
async def job_slot(provider: ProviderConfig) -> AsyncIterator[None]:
    """Hold one slot of the provider's job limit (created or updated to the configured size);
    without `max_concurrent_jobs`, hold nothing."""
    if provider.max_concurrent_jobs is None:
        yield
        return
    name = limit_name(provider)
    async with get_client() as client:
        await client.upsert_global_concurrency_limit_by_name(name, provider.max_concurrent_jobs)
    async with concurrency(name, occupy=1, strict=True):
        yield
