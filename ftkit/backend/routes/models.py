"""`/v1/models`: the base models plus the organization's fine-tuned ones; retrieve; delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import forbidden, not_found
from ftkit.backend.naming import resolve_base, served_base_models
from ftkit.backend.records import ModelRecord

router = APIRouter(prefix="/v1/models", tags=["models"])
BASE_CREATED = 1692634615  # the real babbage-002/davinci-002 `created`


def base_object(name: str) -> dict[str, Any]:
    """A base model as `/v1/models` lists it."""
    return {"id": name, "object": "model", "created": BASE_CREATED, "owned_by": "system"}


def fine_tuned_object(record: ModelRecord) -> dict[str, Any]:
    """A fine-tuned model, owned by its organization."""
    return {
        "id": record.id,
        "object": "model",
        "created": record.created_at,
        "owned_by": record.organization_id,
    }


def _missing(model: str) -> Exception:
    return not_found(f"The model '{model}' does not exist", param="model", code="model_not_found")


@router.get("")
def list_models(state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Base models, then this organization's fine-tuned models."""
    data = [base_object(name) for name in served_base_models()]
    data += [fine_tuned_object(r) for r in state.store.list_models(org.id)]
    return {"object": "list", "data": data}


@router.get("/{model}")
def retrieve_model(model: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """One model."""
    base = resolve_base(model)
    if base == model:
        return base_object(model)
    record = state.store.get_model(model, org.id)
    if record is None:
        raise _missing(model)
    return fine_tuned_object(record)


@router.delete("/{model}")
def delete_model(model: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Delete a fine-tuned model of this organization (base models cannot be deleted)."""
    if resolve_base(model) is not None:
        raise forbidden("You have insufficient permissions for this operation.")
    record = state.store.get_model(model, org.id)
    if record is None:
        raise _missing(model)
    state.store.delete_model(model)
    state.models.evict(record.path)
    return {"id": model, "object": "model", "deleted": True}
