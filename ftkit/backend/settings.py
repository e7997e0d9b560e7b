"""Settings of the embedded backend: where it keeps data, who may call it, and injected faults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MiB = 1024 * 1024


class FaultPlan(BaseModel):
    """Faults injected into matching `/v1` requests and jobs (for tests and benchmarks).

    A request matches when its path matches `path_pattern` (regex, `re.search`) and its method is
    in `methods` (both optional). While `count` is set, only the next `count` matching requests
    are considered; then the plan stops matching. Each matching request is then, in this order:
    delayed by `latency_s`; dropped (socket closed, no response) with probability `drop_rate`;
    answered with an error with probability `error_rate` (429 with retry headers, or 500/503;
    `quota` makes it a 429 `insufficient_quota`, for every matching request when `error_rate`
    is 0). Draws come from a `random.Random(seed)`.
    """

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(
        0.0, ge=0, le=1, description="Share of requests answered with an error."
    )
    error_status: Literal[429, 500, 503] = 429
    retry_after_s: float | None = Field(None, ge=0, description="`retry-after` header on 429s.")
    retry_after_ms: int | None = Field(None, ge=0, description="`retry-after-ms` header on 429s.")
    x_should_retry: bool | None = Field(None, description="`x-should-retry` header on errors.")
    quota: bool = Field(False, description="429 insufficient_quota instead of a rate limit.")
    drop_rate: float = Field(
        0.0, ge=0, le=1, description="Share of requests whose connection is closed."
    )
    latency_s: float = Field(0.0, ge=0, description="Delay added before answering.")
    path_pattern: str | None = Field(None, description="Regex the request path must match.")
    methods: list[str] | None = Field(None, description="HTTP methods that match; None = all.")
    count: int | None = Field(None, ge=0, description="Only the next N matching requests.")
    seed: int | None = None
    fail_job_at_step: int | None = Field(
        None, ge=1, description="Jobs started while this plan is set fail at this training step."
    )
    fail_job_code: str = "server_error"
    fail_job_message: str = "The job failed due to an internal error (injected at step {step})."


class Timing(BaseModel):
    """Simulated delays, so tests can watch jobs in each state. Zero = as fast as training runs.

    Every delay is multiplied by `time_scale`.
    """

    model_config = ConfigDict(extra="forbid")

    step_seconds: float = Field(0.0, ge=0, description="Pause after each training step.")
    queue_seconds: float = Field(0.0, ge=0, description="Time a job waits in the queue.")
    time_scale: float = Field(1.0, ge=0, description="Multiplier applied to every delay.")

    def step_delay(self) -> float:
        """Seconds to wait after one training step."""
        return self.step_seconds * self.time_scale

    def queue_delay(self) -> float:
        """Seconds a job stays queued before it may start."""
        return self.queue_seconds * self.time_scale


class BackendSettings(BaseModel):
    """Everything `create_app` needs; nothing is read from the environment."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(..., description="SQLite metadata and blobs live here.")
    api_keys: list[str] = Field(
        default_factory=list, repr=False, description="Empty = open server; else Bearer required."
    )
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 = a free port.")
    max_upload_bytes: int = Field(512 * MiB, gt=0, description="Larger uploads get 413.")
    step_seconds: float = Field(0.0, ge=0)
    queue_seconds: float = Field(0.0, ge=0)
    time_scale: float = Field(1.0, ge=0)
    max_running_jobs: int = Field(2, ge=1, description="Jobs training at once; the rest queue.")
    faults: FaultPlan | None = None
    base64_job_results: bool = Field(
        True,
        description="Serve /v1/fine_tuning/jobs result CSVs base64-encoded, as the real API was "
        "observed to (legacy compiled_results.csv stays plain).",
    )
    admin_key: str | None = Field(
        None,
        repr=False,
        description="Turns on the /_ftkit admin and fault endpoints, for this key only.",
    )
    enable_faults: bool = Field(
        False,
        description="Turns on the /_ftkit endpoints of an open server without an admin key "
        "(tests and benchmarks); a server with API keys needs `admin_key` instead.",
    )

    @model_validator(mode="after")
    def _admin_is_not_a_tenant(self) -> BackendSettings:
        if self.admin_key is not None and (
            not self.admin_key.strip() or self.admin_key in self.api_keys
        ):
            msg = "the admin key must be non-empty and differ from every API key"
            raise ValueError(msg)
        if self.enable_faults and self.api_keys and self.admin_key is None:
            msg = "enable_faults on a server with API keys needs an admin key (admin_key)"
            raise ValueError(msg)
        return self

    @property
    def admin_enabled(self) -> bool:
        """True when the /_ftkit endpoints are served at all."""
        return self.admin_key is not None or self.enable_faults

    def timing(self) -> Timing:
        """The initial simulated delays."""
        return Timing(
            step_seconds=self.step_seconds,
            queue_seconds=self.queue_seconds,
            time_scale=self.time_scale,
        )
