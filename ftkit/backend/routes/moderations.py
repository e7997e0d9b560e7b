"""`/v1/moderations`: offensive-language screening (see `ftkit.backend.moderation`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from ftkit.backend.deps import OrgDep
from ftkit.backend.errors import bad_request, empty_array
from ftkit.backend.ids import new_id
from ftkit.backend.moderation import ALIASES, MODEL_NAME, moderate
from ftkit.backend.serving import model_not_found

router = APIRouter(prefix="/v1", tags=["moderations"])


class ModerationCreate(BaseModel):
    """`CreateModerationRequest`: text, texts, or text parts (`{"type": "text", ...}`)."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str] | list[dict[str, Any]]
    model: str = "omni-moderation-latest"


@router.post("/moderations")
async def create_moderation(body: ModerationCreate, org: OrgDep) -> dict[str, Any]:
    """One result per input, in order; `model` names the model that judged."""
    if body.model not in (MODEL_NAME, *ALIASES):
        raise model_not_found(body.model)
    texts = _texts(body.input)
    results = await run_in_threadpool(moderate, texts)
    return {"id": new_id("modr-"), "model": MODEL_NAME, "results": results}


def _texts(value: str | list[str] | list[dict[str, Any]]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not value:
        raise empty_array("input")
    texts = []
    items: list[str | dict[str, Any]] = list(value)
    for index, item in enumerate(items):
        if isinstance(item, str):
            texts.append(item)
        elif item.get("type") == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        else:
            kind = item.get("type")
            raise bad_request(
                f"Invalid 'input[{index}]': this model judges text only; "
                f"'{kind}' inputs are not supported.",
                f"input[{index}].type",
                "invalid_value",
            )
    return texts
