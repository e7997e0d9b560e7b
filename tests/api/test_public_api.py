"""The public surface of ftkit.api is deliberate: __all__ lists exactly the public names."""

from __future__ import annotations

import ftkit.api


def test_all_matches_public_names():
    """Every public name is in __all__ and every __all__ entry exists."""
    public = {n for n in dir(ftkit.api) if not n.startswith("_")}
    modules = {
        "async_client",
        "client",
        "dialects",
        "follow",
        "local_files",
        "models",
        "providers",
        "retry",
        "sse",
    }
    assert sorted(ftkit.api.__all__) == sorted(public - modules)


def test_sync_and_async_clients_have_the_same_surface():
    """Client and AsyncClient expose the same resources and method names."""
    from ftkit.api import AsyncClient, Client
    from ftkit.config import ProviderConfig

    provider = ProviderConfig(kind="local")
    sync, asyn = (
        Client(provider, base_url="http://x/v1"),
        AsyncClient(provider, base_url="http://x/v1"),
    )
    for resource in ("files", "jobs", "models", "completions", "chat"):
        names = {n for n in dir(getattr(sync, resource)) if not n.startswith("_")}
        assert names == {n for n in dir(getattr(asyn, resource)) if not n.startswith("_")}
