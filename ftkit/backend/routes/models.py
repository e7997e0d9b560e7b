"""`/v1/models` (and its deprecated alias `/v1/engines`): base models, aliases, fine-tuned models
and checkpoints; retrieve; delete.

Model objects carry the legacy fields old clients show (`permission`, `root`, `parent`):
`root` is the base model at the root of the lineage, `parent` the model it was trained from.
`/v1/engines` lists the same models as `engine` objects (`ready`, `owner`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ftkit.backend.auth import Org
from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import forbidden, not_found
from ftkit.backend.ids import new_id
from ftkit.backend.naming import ALIASES, resolve_base, served_base_models
from ftkit.backend.records import ModelRecord
from ftkit.backend.state import BackendState

router = APIRouter(prefix="/v1", tags=["models"])
BASE_CREATED = 1692634615  # the real babbage-002/davinci-002 `created`


def base_object(name: str) -> dict[str, Any]:
    """A base model or alias as `/v1/models` lists it."""
    return _model(name, BASE_CREATED, "system", resolve_base(name) or name, None)


def fine_tuned_object(record: ModelRecord, parent: str | None = None) -> dict[str, Any]:
    """A fine-tuned model, owned by its organization."""
    return _model(
        record.id,
        record.created_at,
        record.organization_id,
        record.base_model,
        parent or record.base_model,
    )


def _model(name: str, created: int, owner: str, root: str, parent: str | None) -> dict[str, Any]:
    permission = {
        "id": new_id("modelperm-"),
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": parent is None,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }
    return {
        "id": name,
        "object": "model",
        "created": created,
        "owned_by": owner,
        "permission": [permission],
        "root": root,
        "parent": parent,
    }


def _engine(model: dict[str, Any]) -> dict[str, Any]:
    """The deprecated engine shape of a model object."""
    return {
        "id": model["id"],
        "object": "engine",
        "created": model["created"],
        "owner": model["owned_by"],
        "permissions": None,
        "ready": True,
    }


def _missing(model: str) -> Exception:
    return not_found(f"The model '{model}' does not exist", param="model", code="model_not_found")


def _all_models(state: BackendState, org: Org) -> list[dict[str, Any]]:
    data = [base_object(name) for name in (*served_base_models(), *ALIASES)]
    return data + [_fine_tuned(state, record) for record in state.store.list_models(org.id)]


def _fine_tuned(state: BackendState, record: ModelRecord) -> dict[str, Any]:
    job = state.store.get_job(record.job_id)
    return fine_tuned_object(record, job.parent_model if job else None)


def _one_model(state: BackendState, org: Org, model: str) -> dict[str, Any]:
    """A base model, alias, fine-tuned model or checkpoint of this organization; 404 if none."""
    if resolve_base(model) is not None:
        return base_object(model)
    record = state.store.get_model(model, org.id)
    if record is not None:
        return _fine_tuned(state, record)
    checkpoint = state.store.checkpoint_by_model(model, org.id)
    job = state.store.get_job(checkpoint.job_id) if checkpoint else None
    if checkpoint is None or job is None:
        raise _missing(model)
    parent = job.fine_tuned_model or job.model
    return _model(model, checkpoint.created_at, job.organization_id, job.base_model, parent)


@router.get("/models")
def list_models(state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Base models and aliases, then this organization's fine-tuned models."""
    return {"object": "list", "data": _all_models(state, org)}


@router.get("/models/{model}")
def retrieve_model(model: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """One model (aliases and checkpoints included)."""
    return _one_model(state, org, model)


@router.delete("/models/{model}")
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


@router.get("/engines", deprecated=True)
def list_engines(state: StateDep, org: OrgDep) -> dict[str, Any]:
    """The models as engines (deprecated alias of `/v1/models`, listed by old clients)."""
    return {"object": "list", "data": [_engine(m) for m in _all_models(state, org)]}


@router.get("/engines/{engine_id}", deprecated=True)
def retrieve_engine(engine_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """One model as an engine."""
    return _engine(_one_model(state, org, engine_id))
