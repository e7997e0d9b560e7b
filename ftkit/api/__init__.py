"""The fine-tuning API client: providers, both dialects, safe retries, event following.

from ftkit.api import Client, JobSpec
with Client(config.provider, base_url=url) as client:
    train = client.files.upload_or_reuse("train.jsonl")
    job = client.jobs.create(JobSpec.from_config(config.job, train.id), run_key)
    for update in client.jobs.follow(job.id):
        print(update.event.message)
"""

from ftkit.api._instructions import ProgressCallback
from ftkit.api.async_client import AsyncClient
from ftkit.api.client import Client
from ftkit.api.dialects import RUN_KEY_METADATA, legacy_key
from ftkit.api.models import (
    ChatChoice,
    Checkpoint,
    CompletionChoice,
    EventCursor,
    FileObject,
    FollowUpdate,
    Job,
    JobError,
    JobEvent,
    JobSpec,
    JobStatus,
    Logprobs,
    Model,
)
from ftkit.api.retry import RetryPolicy, set_testing

__all__ = [
    "RUN_KEY_METADATA",
    "AsyncClient",
    "ChatChoice",
    "Checkpoint",
    "Client",
    "CompletionChoice",
    "EventCursor",
    "FileObject",
    "FollowUpdate",
    "Job",
    "JobError",
    "JobEvent",
    "JobSpec",
    "JobStatus",
    "Logprobs",
    "Model",
    "ProgressCallback",
    "RetryPolicy",
    "legacy_key",
    "set_testing",
]
