"""What `Client` and `AsyncClient` share: configuration, request building, retry decisions and
every API operation, written once as instruction generators (see `_instructions`)."""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from ftkit.api import follow as _follow
from ftkit.api._instructions import Call, ProgressCallback, Sleep, Upload
from ftkit.api._mapping import (
    Redactor,
    is_quota_error,
    request_was_sent,
    status_error,
)
from ftkit.api.dialects import DIALECTS, RUN_KEY_METADATA, Dialect, parse_checkpoint, parse_file
from ftkit.api.models import (
    ChatChoice,
    Checkpoint,
    CompletionChoice,
    EventCursor,
    FileObject,
    Job,
    JobEvent,
    JobSpec,
    Logprobs,
    Model,
)
from ftkit.api.providers import Endpoint, resolve_endpoint
from ftkit.api.retry import RetryPolicy, should_retry_status
from ftkit.config import ProviderConfig
from ftkit.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigError,
    ConflictError,
    DataError,
    FtkitError,
    InternalServerError,
)

log = logging.getLogger("ftkit.api")

USER_AGENT = "ftkit/0.1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
HASH_CHARS = 12
_FILE_DONE = {"processed", None}
_FILE_BAD = {"error", "deleted", "deleting"}


class BaseClient:
    """Configuration and operations shared by the sync and async clients."""

    def __init__(
        self,
        provider: ProviderConfig | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int | None = None,
    ) -> None:
        provider = provider or ProviderConfig()
        self.provider = provider
        self.endpoint: Endpoint = resolve_endpoint(provider, base_url=base_url, api_key=api_key)
        self.dialect: Dialect = DIALECTS[provider.dialect]
        self.policy = RetryPolicy(
            max_retries=provider.max_retries if max_retries is None else max_retries
        )
        self.read_timeout_s = provider.timeout_s
        self.timeout = httpx.Timeout(provider.timeout_s, connect=provider.connect_timeout_s)
        self.redact = Redactor(self.endpoint.api_key)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.endpoint.kind!r}, base_url="
            f"{self.endpoint.base_url!r}, dialect={self.dialect.name!r})"
        )

    # -- request building and answers (no I/O) -------------------------------------------------

    def _request_args(self, call: Call) -> tuple[dict[str, Any], list[BinaryIO]]:
        """Keyword arguments for `build_request`, plus files to close after sending."""
        headers = {"User-Agent": USER_AGENT, **self.endpoint.headers, **(call.headers or {})}
        params = {**self.endpoint.params, **(call.params or {})}
        args: dict[str, Any] = {
            "method": call.method,
            "url": self.endpoint.base_url + call.path,
            "params": params,
            "headers": headers,
        }
        if call.read_timeout is not None:
            args["timeout"] = httpx.Timeout(call.read_timeout, connect=self.timeout.connect)
        opened: list[BinaryIO] = []
        if call.json is not None:
            args["content"] = orjson.dumps(call.json)
            headers["Content-Type"] = "application/json"
        if call.upload is not None:
            handle = call.upload.path.open("rb")
            opened.append(handle)
            body: io.RawIOBase | BinaryIO = (
                _ProgressReader(handle, call.upload.progress) if call.upload.progress else handle
            )
            args["files"] = {"file": (call.upload.filename, body, "application/octet-stream")}
            args["data"] = call.upload.fields
        return args, opened

    def _retry_delay(
        self,
        call: Call,
        attempt: int,
        *,
        response: httpx.Response | None = None,
        error: FtkitError | None = None,
    ) -> float | None:
        """Seconds to wait before retrying, or None to give up (the caller then raises)."""
        if attempt >= self.policy.max_retries:
            return None
        if error is not None:
            if not isinstance(error, APIConnectionError):
                return None
            if not call.idempotent and request_was_sent(error):
                return None  # ambiguous: the operation looks before it retries
            return self.policy.delay(attempt, None)
        assert response is not None
        headers = response.headers
        if is_quota_error(response) or not should_retry_status(response.status_code, headers):
            return None
        ambiguous = response.status_code >= 500 and headers.get("x-should-retry") != "true"
        if not call.idempotent and ambiguous:
            return None
        if response.status_code == 409 and IDEMPOTENCY_HEADER in (call.headers or {}):
            return None  # the key was used for another body: asking again changes nothing
        return self.policy.delay(attempt, headers)

    def _answer(self, call: Call, response: httpx.Response) -> Any:
        """The parsed answer of a successful response (not for `file` calls)."""
        if call.expect == "bytes":
            return response.content
        if not response.content:
            return {}
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise APIConnectionError(
                f"{call.what}: the API answered HTTP {response.status_code} with a body that "
                "is not JSON; check the base URL."
            ) from exc

    def _error(self, call: Call, response: httpx.Response) -> FtkitError:
        return status_error(response, self.redact, call.what)

    def _log(self, call: Call, attempt: int, outcome: str, started: float) -> None:
        log.debug(
            "%s %s -> %s (attempt %d, %.0f ms)",
            call.method,
            call.path,
            outcome,
            attempt + 1,
            (time.perf_counter() - started) * 1000,
        )

    def _log_retry(self, call: Call, attempt: int, reason: str, delay: float) -> None:
        log.info(
            "%s %s: %s; retry %d/%d in %.2f s",
            call.method,
            call.path,
            self.redact(reason).rstrip("."),
            attempt + 1,
            self.policy.max_retries,
            delay,
        )

    # -- files ---------------------------------------------------------------------------------

    def _op_file_upload(
        self,
        path: Path,
        purpose: str,
        progress: ProgressCallback | None,
        filename: str | None = None,
        idempotent: bool = True,
    ) -> Generator[Any, Any, FileObject]:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: file not found; nothing to upload.")
        upload = Upload(path, filename or path.name, {"purpose": purpose}, progress)
        payload = yield Call(
            "POST",
            "/files",
            what=f"upload {path.name}",
            upload=upload,
            idempotent=idempotent,
        )
        return parse_file(payload)

    def _op_file_upload_or_reuse(
        self, path: Path, purpose: str, progress: ProgressCallback | None
    ) -> Generator[Any, Any, FileObject]:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: file not found; nothing to upload.")
        digest, size = _sha256(path)
        name = hashed_filename(path, digest)
        found = yield from self._op_find_file(name, size, purpose)
        if found is not None:
            log.info("reusing %s for %s (same sha256 and size)", found.id, path.name)
            return found
        attempt = 0
        while True:
            try:
                item = yield from self._op_file_upload(
                    path, purpose, progress, name, idempotent=False
                )
                if attempt == 0:
                    return item
                return (yield from self._op_file_keep_one(item, size, purpose))
            except (APIConnectionError, InternalServerError) as exc:
                delay = self._ambiguous_retry(attempt, exc)
                yield Sleep(delay)
                attempt += 1
                found = yield from self._op_find_file(name, size, purpose)
                if found is not None:
                    return found

    def _op_file_keep_one(
        self, item: FileObject, size: int, purpose: str
    ) -> Generator[Any, Any, FileObject]:
        """After a retried upload: keep the oldest copy of the content, delete the others."""
        keep, *extra = (yield from self._op_same_files(item.filename, size, purpose)) or [item]
        for duplicate in extra:
            log.warning("deleting duplicate upload %s of %s", duplicate.id, item.filename)
            yield from self._op_file_delete(duplicate.id)
        return keep

    def _ambiguous_retry(self, attempt: int, exc: FtkitError) -> float:
        """The wait before retrying a non-idempotent call after an ambiguous failure."""
        if attempt >= self.policy.max_retries:
            raise exc
        delay = self.policy.delay(attempt, None) or 0.0
        log.info("ambiguous failure (%s); looking up before retrying", self.redact(str(exc)))
        return delay

    def _op_find_file(
        self, filename: str, size: int, purpose: str
    ) -> Generator[Any, Any, FileObject | None]:
        same = yield from self._op_same_files(filename, size, purpose)
        return same[0] if same else None

    def _op_same_files(
        self, filename: str, size: int, purpose: str
    ) -> Generator[Any, Any, list[FileObject]]:
        """Usable files with this name and size, oldest first."""
        files = yield from self._op_file_list(purpose)
        same = [
            item
            for item in files
            if item.filename == filename
            and item.bytes in (size, None)
            and item.status not in _FILE_BAD
        ]
        return sorted(same, key=lambda item: (item.created_at or 0, item.id))

    def _op_file_list(
        self, purpose: str | None = None, limit: int | None = None
    ) -> Generator[Any, Any, list[FileObject]]:
        params: dict[str, Any] = {}
        if purpose:
            params["purpose"] = purpose
        if limit:
            params["limit"] = limit
        return [parse_file(item) for item in (yield from self._op_pages("/files", params, "files"))]

    def _op_pages(
        self, path: str, params: dict[str, Any], what: str
    ) -> Generator[Any, Any, list[dict[str, Any]]]:
        """Every item of a list endpoint, following `after` while `has_more` says so."""
        items: list[dict[str, Any]] = []
        seen_cursors: set[str] = set()
        while True:
            page = yield Call("GET", path, what=f"list {what}", params=params)
            data = page.get("data") or [] if isinstance(page, dict) else page
            items.extend(data)
            if not data or not isinstance(page, dict) or not page.get("has_more"):
                return items
            after = str(data[-1]["id"])
            if after in seen_cursors:  # a server that ignores `after`
                return items
            seen_cursors.add(after)
            params = {**params, "after": after}

    def _op_file_get(self, file_id: str) -> Generator[Any, Any, FileObject]:
        payload = yield Call("GET", f"/files/{file_id}", what=f"get file {file_id}")
        return parse_file(payload)

    def _op_file_delete(self, file_id: str) -> Generator[Any, Any, bool]:
        payload = yield Call("DELETE", f"/files/{file_id}", what=f"delete file {file_id}")
        return bool(payload.get("deleted", True))

    def _op_file_content(self, file_id: str) -> Generator[Any, Any, bytes]:
        return (
            yield Call(
                "GET", f"/files/{file_id}/content", what=f"download file {file_id}", expect="bytes"
            )
        )

    def _op_file_download(self, file_id: str, dest: Path) -> Generator[Any, Any, Path]:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return (
            yield Call(
                "GET",
                f"/files/{file_id}/content",
                what=f"download file {file_id}",
                expect="file",
                dest=dest,
            )
        )

    def _op_file_wait(
        self, file_id: str, timeout_s: float, poll_s: float
    ) -> Generator[Any, Any, FileObject]:
        deadline = time.monotonic() + timeout_s
        interval = poll_s
        while True:
            item = yield from self._op_file_get(file_id)
            if item.status in _FILE_DONE:
                return item
            if item.status in _FILE_BAD:
                details = item.status_details or "no details given"
                raise DataError(f"File {file_id} ({item.filename}) was not accepted: {details}")
            if time.monotonic() >= deadline:
                raise APITimeoutError(
                    f"File {file_id} is still {item.status!r} after {timeout_s:g} s; "
                    "try again later."
                )
            yield Sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, 5.0)

    # -- jobs ----------------------------------------------------------------------------------

    def _op_job_create(self, spec: JobSpec, run_key: str) -> Generator[Any, Any, Job]:
        existing = yield from self._op_job_find(run_key, spec)
        if existing is not None:
            log.info("run key %s already has job %s; not creating another", run_key, existing.id)
            return existing
        body = self.dialect.create_body(spec, run_key)
        attempt = 0
        while True:
            try:
                payload = yield Call(
                    "POST",
                    self.dialect.jobs_path,
                    what="create a fine-tune job",
                    json=body,
                    idempotent=False,
                    headers={IDEMPOTENCY_HEADER: idempotency_key(run_key)},
                )
                job = self.dialect.parse_job(payload)
                if attempt == 0:
                    return job
                return (yield from self._op_job_keep_one(job, run_key, spec))
            except ConflictError:
                # the key made a job for another body (another runner of this run key, with
                # its own uploads): that job is the run key's job
                existing = yield from self._op_job_find(run_key)
                if existing is None:
                    raise
                return existing
            except (APIConnectionError, InternalServerError) as exc:
                delay = self._ambiguous_retry(attempt, exc)
                yield Sleep(delay)
                attempt += 1
                existing = yield from self._op_job_find(run_key, spec)
                if existing is not None:
                    return existing

    def _op_job_keep_one(self, job: Job, run_key: str, spec: JobSpec) -> Generator[Any, Any, Job]:
        """After a retried create: if a lost attempt made a job after all, keep the oldest and
        cancel the others, so the run key still has one live job."""
        matches = yield from self._op_job_matches(run_key, spec)
        if not matches:
            return job
        keep, *extra = matches
        for duplicate in extra:
            if not duplicate.status.terminal:
                log.warning("run key %s: cancelling duplicate job %s", run_key, duplicate.id)
                yield from self._op_job_action(duplicate.id, "cancel")
        return keep

    def _op_job_find(
        self, run_key: str, spec: JobSpec | None = None
    ) -> Generator[Any, Any, Job | None]:
        matches = yield from self._op_job_matches(run_key, spec)
        if len(matches) > 1:
            log.warning("run key %s has %d jobs; using the oldest", run_key, len(matches))
        return matches[0] if matches else None

    def _op_job_matches(self, run_key: str, spec: JobSpec | None) -> Generator[Any, Any, list[Job]]:
        """The jobs of a run key, oldest first (legacy: by spec while the key is not visible)."""
        params: dict[str, Any] = {}
        if self.dialect.name == "jobs":
            params = {f"metadata[{RUN_KEY_METADATA}]": run_key, "limit": 100}
        jobs = yield from self._op_job_list(params)
        matches = [job for job in jobs if self.dialect.has_run_key(job, run_key)]
        if not matches and spec is not None:
            matches = [job for job in jobs if self.dialect.matches_spec(job, spec)]
        return sorted(matches, key=lambda job: (job.created_at or 0, job.id))

    def _op_job_list(self, params: dict[str, Any] | None = None) -> Generator[Any, Any, list[Job]]:
        if params is None:
            params = {} if self.dialect.streams_events else {"limit": 100}
        items = yield from self._op_pages(self.dialect.jobs_path, params, "jobs")
        return [self.dialect.parse_job(item) for item in items]

    def _op_job_get(self, job_id: str) -> Generator[Any, Any, Job]:
        payload = yield Call("GET", f"{self.dialect.jobs_path}/{job_id}", what=f"get job {job_id}")
        return self.dialect.parse_job(payload)

    def _op_job_action(self, job_id: str, action: str) -> Generator[Any, Any, Job]:
        if action != "cancel" and self.dialect.name != "jobs":
            raise ConfigError(f"{action} needs the jobs dialect; the legacy API has no {action}.")
        payload = yield Call(
            "POST", f"{self.dialect.jobs_path}/{job_id}/{action}", what=f"{action} job {job_id}"
        )
        return self.dialect.parse_job(payload)

    def _op_job_events(self, job_id: str) -> Generator[Any, Any, list[JobEvent]]:
        path = f"{self.dialect.jobs_path}/{job_id}/events"
        params: dict[str, Any] = {} if self.dialect.streams_events else {"limit": 100}
        items = yield from self._op_pages(path, params, f"events of job {job_id}")
        if not self.dialect.streams_events:
            items.reverse()  # newest first on the wire
        return [self.dialect.parse_event(item, i + 1) for i, item in enumerate(items)]

    def _op_job_checkpoints(self, job_id: str) -> Generator[Any, Any, list[Checkpoint]]:
        if self.dialect.name != "jobs":
            return []
        path = f"{self.dialect.jobs_path}/{job_id}/checkpoints"
        items = yield from self._op_pages(path, {"limit": 100}, f"checkpoints of job {job_id}")
        return [parse_checkpoint(item) for item in items]

    def _op_job_follow(
        self,
        job_id: str,
        cursor: EventCursor | None,
        poll_interval_s: float,
        max_poll_interval_s: float,
        timeout_s: float | None,
    ) -> Generator[Any, Any, None]:
        return _follow.follow(self, job_id, cursor, poll_interval_s, max_poll_interval_s, timeout_s)

    def _op_job_wait(
        self,
        job_id: str,
        poll_interval_s: float,
        max_poll_interval_s: float,
        timeout_s: float | None,
    ) -> Generator[Any, Any, Job]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        interval = poll_interval_s
        while True:
            job = yield from self._op_job_get(job_id)
            if job.status.terminal:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise APITimeoutError(
                    f"Job {job_id} is still {job.status} after {timeout_s:g} s; it keeps running."
                )
            wait = interval if deadline is None else min(interval, deadline - time.monotonic())
            yield Sleep(max(0.0, wait))
            interval = min(interval * 1.5, max_poll_interval_s)

    # -- models and completions ----------------------------------------------------------------

    def _op_model_delete(self, model: str) -> Generator[Any, Any, bool]:
        payload = yield Call("DELETE", f"/models/{model}", what=f"delete model {model}")
        return bool(payload.get("deleted", True))

    def _op_model_list(self) -> Generator[Any, Any, list[Model]]:
        payload = yield Call("GET", "/models", what="list models")
        return [
            Model(id=m["id"], created=m.get("created"), owned_by=m.get("owned_by"))
            for m in payload.get("data") or []
        ]

    def _op_complete(
        self, model: str, prompts: Sequence[str], options: dict[str, Any]
    ) -> Generator[Any, Any, list[CompletionChoice]]:
        body = {"model": model, "prompt": list(prompts), **_set(options)}
        payload = yield Call(
            "POST", self.endpoint.completions_path(model), what=f"completions of {model}", json=body
        )
        choices = sorted(payload.get("choices") or [], key=lambda c: c.get("index", 0))
        return [
            CompletionChoice(
                index=c.get("index", i),
                text=c.get("text") or "",
                finish_reason=c.get("finish_reason"),
                logprobs=Logprobs.model_validate(c["logprobs"]) if c.get("logprobs") else None,
            )
            for i, c in enumerate(choices)
        ]

    def _op_moderate(
        self, model: str, texts: Sequence[str]
    ) -> Generator[Any, Any, list[dict[str, Any]]]:
        """`/moderations` results (flagged, categories, category_scores), one per text."""
        payload = yield Call(
            "POST", "/moderations", what="moderations", json={"model": model, "input": list(texts)}
        )
        return list(payload.get("results") or [])

    def _op_chat(
        self, model: str, messages: Sequence[dict[str, Any]], options: dict[str, Any]
    ) -> Generator[Any, Any, list[ChatChoice]]:
        body = {"model": model, "messages": list(messages), **_set(options)}
        payload = yield Call(
            "POST",
            self.endpoint.completions_path(model, chat=True),
            what=f"chat completions of {model}",
            json=body,
        )
        choices = sorted(payload.get("choices") or [], key=lambda c: c.get("index", 0))
        return [
            ChatChoice(
                index=c.get("index", i),
                content=(c.get("message") or {}).get("content"),
                role=(c.get("message") or {}).get("role") or "assistant",
                finish_reason=c.get("finish_reason"),
                logprobs=c.get("logprobs"),
            )
            for i, c in enumerate(choices)
        ]


def idempotency_key(run_key: str) -> str:
    """The `Idempotency-Key` of a run key's create call: the same from every process."""
    return f"ftkit-run-{run_key}"


def hashed_filename(path: Path, digest: str) -> str:
    """`<stem>.<sha256[:12]><suffix>`: the remote name that lets any machine find the file."""
    return f"{path.stem}.{digest[:HASH_CHARS]}{path.suffix}"


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _set(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


class _ProgressReader(io.RawIOBase):
    """A read-only file that reports bytes read to a progress callback."""

    def __init__(self, handle: BinaryIO, callback: ProgressCallback) -> None:
        super().__init__()
        self._handle = handle
        self._callback = callback
        self._total = Path(handle.name).stat().st_size
        self._done = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._handle.fileno()

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._handle.seek(offset, whence)
        self._done = position
        return position

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        chunk = self._handle.read(size)
        if chunk:
            self._done += len(chunk)
            self._callback(self._done, self._total)
        return chunk
