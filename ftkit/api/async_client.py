"""The asyncio client: the same surface as `Client`, every call awaited."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from ftkit.api._base import BaseClient
from ftkit.api._instructions import (
    Call,
    CloseStream,
    Emit,
    Instruction,
    NextLine,
    Op,
    OpenStream,
    ProgressCallback,
    Sleep,
    Stepper,
)
from ftkit.api._mapping import map_transport_errors
from ftkit.api._transport import async_transport
from ftkit.api.client import DEFAULT_LIMITS
from ftkit.api.local_files import part_file
from ftkit.api.models import (
    ChatChoice,
    Checkpoint,
    CompletionChoice,
    EventCursor,
    FileObject,
    FollowUpdate,
    Job,
    JobEvent,
    JobSpec,
    Model,
)
from ftkit.config import ProviderConfig
from ftkit.errors import FtkitError


class AsyncClient(BaseClient):
    """An asyncio client for one provider; `async with` it or `await close()`."""

    def __init__(
        self,
        provider: ProviderConfig | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__(provider, base_url=base_url, api_key=api_key, max_retries=max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=self.timeout, transport=async_transport(DEFAULT_LIMITS)
        )
        self.files = AsyncFiles(self)
        self.jobs = AsyncJobs(self)
        self.models = AsyncModels(self)
        self.completions = AsyncCompletions(self)
        self.chat = AsyncChat(self)
        self.moderations = AsyncModerations(self)

    async def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the driver ----------------------------------------------------------------------------

    async def _run(self, op: Op) -> Any:
        """Perform an operation to its end and return its result."""
        stepper = Stepper(op)
        try:
            outcome = await self._until_emit(stepper)
            if isinstance(outcome, Emit):
                raise TypeError("this operation yields values; iterate it")
            return outcome.value
        finally:
            await self._finish(stepper)

    async def _iter(self, op: Op) -> AsyncIterator[Any]:
        """Perform an iterating operation, yielding what it emits."""
        stepper = Stepper(op)
        try:
            while isinstance(outcome := await self._until_emit(stepper), Emit):
                yield outcome.value
        finally:
            await self._finish(stepper)

    async def _until_emit(self, stepper: Stepper) -> Emit | StopIteration:
        """Perform instructions until the operation emits a value or ends."""
        while True:
            instruction = stepper.next()
            if isinstance(instruction, Emit | StopIteration):
                return instruction
            try:
                stepper.value = await self._perform(instruction, stepper)
            except FtkitError as exc:
                stepper.error = exc

    async def _finish(self, stepper: Stepper) -> None:
        stepper.op.close()
        for response in stepper.streams:
            await response.aclose()

    async def _perform(self, instruction: Instruction, stepper: Stepper) -> Any:
        if isinstance(instruction, Call):
            return await self._call(instruction)
        if isinstance(instruction, Sleep):
            if instruction.seconds > 0:
                await asyncio.sleep(instruction.seconds)
            return None
        if isinstance(instruction, OpenStream):
            response = await self._call(instruction.call, stream=True)
            stepper.streams.append(response)
            return _Stream(response, response.aiter_lines())
        if isinstance(instruction, NextLine):
            with map_transport_errors(self.redact, "read the event stream"):
                return await anext(instruction.handle.lines, None)
        if isinstance(instruction, CloseStream):
            await instruction.handle.response.aclose()
            stepper.streams.remove(instruction.handle.response)
            return None
        raise TypeError(f"unknown instruction {instruction!r}")

    async def _call(self, call: Call, *, stream: bool = False) -> Any:
        """Send one request with retries; return the parsed answer (or the open response)."""
        attempt = 0
        while True:
            started = time.perf_counter()
            args, opened = self._request_args(call)
            try:
                with map_transport_errors(self.redact, call.what):
                    request = self._http.build_request(**args)
                    response = await self._http.send(
                        request, stream=stream or call.expect == "file"
                    )
                    if response.is_success and call.expect == "file":
                        return await self._save(response, call)
            except FtkitError as exc:
                delay = self._retry_delay(call, attempt, error=exc)
                self._log(call, attempt, type(exc).__name__, started)
                if delay is None:
                    raise
                self._log_retry(call, attempt, str(exc), delay)
                await asyncio.sleep(delay)
                attempt += 1
                continue
            finally:
                for handle in opened:
                    handle.close()
            self._log(call, attempt, str(response.status_code), started)
            if response.is_success:
                return response if stream else self._answer(call, response)
            if stream:
                await response.aread()
                await response.aclose()
            delay = self._retry_delay(call, attempt, response=response)
            if delay is None:
                raise self._error(call, response)
            self._log_retry(call, attempt, f"HTTP {response.status_code}", delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _save(self, response: httpx.Response, call: Call) -> Path:
        assert call.dest is not None
        try:
            with part_file(call.dest) as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        finally:
            await response.aclose()
        return call.dest


class _Stream:
    def __init__(self, response: httpx.Response, lines: AsyncIterator[str]) -> None:
        self.response = response
        self.lines = lines


class AsyncFiles:
    """Files: upload (also reusing identical content), list, get, delete, download."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def upload(
        self, path: str | Path, purpose: str = "fine-tune", progress: ProgressCallback | None = None
    ) -> FileObject:
        """Upload a file (streamed multipart); `progress(sent, total)` is called as it goes."""
        return await self._c._run(self._c._op_file_upload(Path(path), purpose, progress))

    async def upload_or_reuse(
        self, path: str | Path, purpose: str = "fine-tune", progress: ProgressCallback | None = None
    ) -> FileObject:
        """Upload once per content (see `Client.files.upload_or_reuse`)."""
        return await self._c._run(self._c._op_file_upload_or_reuse(Path(path), purpose, progress))

    async def list(self, purpose: str | None = None) -> builtins.list[FileObject]:
        """Every file (all pages), optionally only those of one purpose."""
        return await self._c._run(self._c._op_file_list(purpose))

    async def get(self, file_id: str) -> FileObject:
        """One file's metadata."""
        return await self._c._run(self._c._op_file_get(file_id))

    async def delete(self, file_id: str) -> bool:
        """Delete a file; True when the API says it is deleted."""
        return await self._c._run(self._c._op_file_delete(file_id))

    async def content(self, file_id: str) -> bytes:
        """A file's bytes, in memory."""
        return await self._c._run(self._c._op_file_content(file_id))

    async def download(self, file_id: str, dest: str | Path) -> Path:
        """Stream a file's bytes to `dest` (written whole or not at all)."""
        return await self._c._run(self._c._op_file_download(file_id, Path(dest)))

    async def wait_processed(
        self, file_id: str, timeout_s: float = 300.0, poll_interval_s: float = 0.2
    ) -> FileObject:
        """Wait until the file is processed; DataError if it was rejected."""
        return await self._c._run(self._c._op_file_wait(file_id, timeout_s, poll_interval_s))


class AsyncJobs:
    """Fine-tune jobs: idempotent create, get, list, cancel, pause, resume, events, follow."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, spec: JobSpec, run_key: str) -> Job:
        """Create the job of `run_key`, or return the one it already has (one key, one job)."""
        return await self._c._run(self._c._op_job_create(spec, run_key))

    async def find_by_run_key(self, run_key: str, spec: JobSpec | None = None) -> Job | None:
        """The job created with this run key, if there is one.

        Legacy dialect: the key is visible only in the final model name, so an in-flight job is
        found only when `spec` is given (matched by model, files and hyperparameters)."""
        return await self._c._run(self._c._op_job_find(run_key, spec))

    async def get(self, job_id: str) -> Job:
        """One job."""
        return await self._c._run(self._c._op_job_get(job_id))

    async def list(self) -> builtins.list[Job]:
        """Every job (all pages), newest first as the API lists them."""
        return await self._c._run(self._c._op_job_list())

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job."""
        return await self._c._run(self._c._op_job_action(job_id, "cancel"))

    async def pause(self, job_id: str) -> Job:
        """Pause a running job (jobs dialect)."""
        return await self._c._run(self._c._op_job_action(job_id, "pause"))

    async def resume(self, job_id: str) -> Job:
        """Resume a paused job (jobs dialect)."""
        return await self._c._run(self._c._op_job_action(job_id, "resume"))

    async def events(self, job_id: str) -> builtins.list[JobEvent]:
        """All events so far, oldest first."""
        return await self._c._run(self._c._op_job_events(job_id))

    async def checkpoints(self, job_id: str) -> builtins.list[Checkpoint]:
        """The job's checkpoints ([] in the legacy dialect, which has none)."""
        return await self._c._run(self._c._op_job_checkpoints(job_id))

    def follow(
        self,
        job_id: str,
        cursor: EventCursor | None = None,
        *,
        poll_interval_s: float = 1.0,
        max_poll_interval_s: float = 30.0,
        timeout_s: float | None = None,
    ) -> AsyncIterator[FollowUpdate]:
        """Each new event once, oldest first, until the job is terminal; resumable from `cursor`."""
        op = self._c._op_job_follow(job_id, cursor, poll_interval_s, max_poll_interval_s, timeout_s)
        return self._c._iter(op)

    async def wait(
        self,
        job_id: str,
        *,
        poll_interval_s: float = 1.0,
        max_poll_interval_s: float = 30.0,
        timeout_s: float | None = None,
    ) -> Job:
        """Poll until the job is terminal and return it (no events)."""
        op = self._c._op_job_wait(job_id, poll_interval_s, max_poll_interval_s, timeout_s)
        return await self._c._run(op)


class AsyncModels:
    """Models: list and delete."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def list(self) -> builtins.list[Model]:
        """The models the provider serves."""
        return await self._c._run(self._c._op_model_list())

    async def delete(self, model: str) -> bool:
        """Delete a fine-tuned model."""
        return await self._c._run(self._c._op_model_delete(model))


class AsyncCompletions:
    """Completions (prompt → text), batched: one request for many prompts."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        max_tokens: int | None = 16,
        temperature: float = 0,
        logprobs: int | None = None,
        stop: str | Sequence[str] | None = None,
        n: int = 1,
        **extra: Any,
    ) -> builtins.list[CompletionChoice]:
        """Choices ordered by index (= prompt position * n + choice number)."""
        options = dict(
            max_tokens=max_tokens,
            temperature=temperature,
            logprobs=logprobs,
            stop=stop,
            n=n,
            **extra,
        )
        return await self._c._run(self._c._op_complete(model, prompts, options))


class AsyncChat:
    """Chat completions."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stop: str | Sequence[str] | None = None,
        n: int = 1,
        **extra: Any,
    ) -> builtins.list[ChatChoice]:
        """Choices ordered by index."""
        options = dict(
            max_tokens=max_tokens,
            temperature=temperature,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            stop=stop,
            n=n,
            **extra,
        )
        return await self._c._run(self._c._op_chat(model, messages, options))


class AsyncModerations:
    """Moderation (is this text harmful, and how)."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, model: str, texts: Sequence[str]) -> builtins.list[dict[str, Any]]:
        """One result per text, in order (retried like every call)."""
        return await self._c._run(self._c._op_moderate(model, texts))
