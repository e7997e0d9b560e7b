"""`ensure_process_pool` against a real Prefect server: a pool that a starting worker creates
meanwhile is used, not an error (`prefect worker start --pool P` creates P itself)."""

from __future__ import annotations

import uuid

import pytest
from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound

from flows.deploy import ensure_process_pool


def test_a_pool_a_worker_creates_meanwhile_is_used(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"raced-{uuid.uuid4().hex[:8]}"
    real_read = SyncPrefectClient.read_work_pool

    def read_as_a_worker_creates_it(self: SyncPrefectClient, work_pool_name: str) -> object:
        # the read finds nothing; right after it, a worker starting on the pool creates it
        self.create_work_pool(WorkPoolCreate(name=work_pool_name, type="process"))
        raise ObjectNotFound(http_exc=Exception(f"no pool {work_pool_name}"))

    monkeypatch.setattr(SyncPrefectClient, "read_work_pool", read_as_a_worker_creates_it)
    ensure_process_pool(name)
    monkeypatch.setattr(SyncPrefectClient, "read_work_pool", real_read)
    with get_client(sync_client=True) as client:
        assert client.read_work_pool(name).type == "process"
