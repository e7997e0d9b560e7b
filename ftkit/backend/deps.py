"""Request dependencies: the backend state and the caller's organization."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ftkit.backend.auth import Org
from ftkit.backend.state import BackendState


def get_state(request: Request) -> BackendState:
    """The state `create_app` attached to the app."""
    state: BackendState = request.app.state.backend
    return state


def current_org(request: Request) -> Org:
    """The organization of the request's API key (401 when the key is missing or wrong)."""
    return get_state(request).keys.resolve(request.headers.get("authorization"))


StateDep = Annotated[BackendState, Depends(get_state)]
OrgDep = Annotated[Org, Depends(current_org)]
