"""/v1/moderations: a packaged offensive-language model, through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

HELD_OUT = Path(__file__).parents[2] / "bench" / "data" / "moderation-heldout.jsonl"


@pytest.fixture(scope="module")
def sdk(shared_backend: Any) -> Iterator[openai.OpenAI]:
    """The official client on the module's backend."""
    with openai.OpenAI(base_url=shared_backend.url, api_key="sk-test", max_retries=0) as client:
        yield client


def test_the_held_out_set_is_mostly_judged_right(sdk: openai.OpenAI) -> None:
    """On the hand-labelled held-out set (50 offensive, 50 not), far better than chance."""
    rows = [json.loads(line) for line in HELD_OUT.read_text().splitlines()]
    response = sdk.moderations.create(input=[r["text"] for r in rows])
    assert response.model == "ftkit-offensive-language" and len(response.results) == len(rows)
    right = sum(
        res.flagged == r["offensive"] for res, r in zip(response.results, rows, strict=True)
    )
    assert right / len(rows) >= 0.9
    flagged = [res for res in response.results if res.flagged]
    assert flagged and all(res.categories.harassment for res in flagged)


def test_categories_it_cannot_judge_are_named(sdk: openai.OpenAI) -> None:
    """Unjudged categories score 0 and are listed, so 'not judged' is not read as 'harmless'."""
    [result] = sdk.moderations.create(input="You are a stupid idiot.").results
    assert result.flagged and result.category_scores.harassment > 0.5
    unjudged = (result.model_extra or {})["categories_not_judged"]
    assert "violence" in unjudged and "self-harm" in unjudged and "harassment" not in unjudged
    assert result.category_scores.violence == 0.0


def test_text_parts_and_errors(shared_api: httpx.Client) -> None:
    """Omni-style text parts are judged; images, empty arrays and unknown models are refused."""
    parts = {"input": [{"type": "text", "text": "Have a lovely day."}]}
    ok = shared_api.post("/moderations", json=parts)
    assert ok.status_code == 200 and ok.json()["results"][0]["flagged"] is False
    image = {"input": [{"type": "image_url", "image_url": {"url": "x"}}]}
    for body, param in (
        (image, "input[0].type"),
        ({"input": []}, "input"),
        ({"input": "x", "model": "nope"}, "model"),
    ):
        error = shared_api.post("/moderations", json=body).json()["error"]
        assert error["param"] == param
