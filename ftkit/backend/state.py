"""Everything one backend app holds at run time."""

from __future__ import annotations

from dataclasses import dataclass, field

from ftkit.backend.auth import KeyRing
from ftkit.backend.embeddings import Embedders
from ftkit.backend.faults import FaultInjector, RequestStats
from ftkit.backend.runner import JobRunner
from ftkit.backend.serving import ModelCache
from ftkit.backend.settings import BackendSettings, Timing
from ftkit.backend.store import Store


@dataclass
class BackendState:
    """The store, job runner, model cache, keys, faults and stats of one app."""

    settings: BackendSettings
    store: Store
    runner: JobRunner
    models: ModelCache
    keys: KeyRing
    faults: FaultInjector
    stats: RequestStats
    timing: Timing
    shutting_down: bool = field(default=False)
    embedders: Embedders = field(default_factory=Embedders)
