"""Model objects with the legacy fields, aliases, and `/v1/engines` (the deprecated alias)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest


@pytest.fixture
def sdk(backend: Any) -> Iterator[openai.OpenAI]:
    """The official client on the fixture backend."""
    with openai.OpenAI(base_url=backend.url, api_key="sk-test", max_retries=0) as client:
        yield client


def test_an_alias_is_retrievable_and_listed(sdk: openai.OpenAI) -> None:
    """`gpt-3.5-turbo` is served by completions, so models.retrieve knows it too."""
    alias = sdk.models.retrieve("gpt-3.5-turbo")
    assert alias.id == "gpt-3.5-turbo" and alias.owned_by == "system"
    assert alias.model_extra and alias.model_extra["root"] == "gpt-3.5-turbo-0125"
    assert "gpt-3.5-turbo" in {m.id for m in sdk.models.list()}


def test_models_carry_permission_root_and_parent(api: httpx.Client, model: str) -> None:
    """Base models are their own root with no parent; a fine-tune's root and parent are its base."""
    base = api.get("/models/davinci-002").json()
    assert (base["root"], base["parent"]) == ("davinci-002", None)
    [permission] = base["permission"]
    assert permission["object"] == "model_permission" and permission["allow_sampling"] is True
    tuned = api.get(f"/models/{model}").json()
    assert (tuned["root"], tuned["parent"], tuned["owned_by"]) == ("ada", "ada", "org-personal")
    assert tuned["permission"][0]["allow_fine_tuning"] is False


def test_engines_list_the_models_as_engines(api: httpx.Client, model: str) -> None:
    """The deprecated alias: the same ids as /v1/models, `engine` objects, each ready."""
    engines = api.get("/engines").json()
    models = api.get("/models").json()
    assert [e["id"] for e in engines["data"]] == [m["id"] for m in models["data"]]
    assert model in {e["id"] for e in engines["data"]}
    one = api.get(f"/engines/{model}").json()
    assert (one["object"], one["ready"], one["owner"]) == ("engine", True, "org-personal")
    missing = api.get("/engines/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
