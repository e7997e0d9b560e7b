"""The exceptions a user of ftkit can meet, in one tree.

    FtkitError                      anything ftkit raises on purpose; the CLI prints it, no traceback
    ├── ConfigError                 a bad experiment config or override (exit 2)
    │   └── UnknownJobError         the API does not know the run's recorded job (exit 2)
    ├── DataError                   a dataset that cannot be used as it is (exit 2)
    ├── APIError                    talking to a fine-tuning API went wrong (exit 1)
    │   ├── APIConnectionError      no answer: refused, dropped, DNS
    │   │   └── APITimeoutError     no answer in time
    │   └── APIStatusError          an answer with an error status; carries status, type, param, code
    │       ├── BadRequestError             400
    │       ├── AuthenticationError         401
    │       ├── PermissionDeniedError       403
    │       ├── NotFoundError               404
    │       ├── ConflictError               409
    │       ├── UnprocessableEntityError    422
    │       ├── RateLimitError              429, retried
    │       │   └── QuotaExceededError      429 insufficient_quota or a daily limit, never retried
    │       └── InternalServerError         5xx
    ├── JobFailedError              the remote fine-tune job failed (exit 1)
    └── JobCancelledError           the remote fine-tune job was cancelled (exit 3)

Every message is a full sentence that says what to do. No message ever contains an API key: the
client redacts before it raises (see ``ftkit.api``).
"""

from __future__ import annotations


class FtkitError(Exception):
    """Base of every error ftkit raises on purpose."""

    exit_code: int = 1


class ConfigError(FtkitError):
    """The experiment config or a command-line override is wrong."""

    exit_code = 2


class UnknownJobError(ConfigError):
    """The API does not know the job a run folder records: it is another provider or backend.

    The run folder is left as it was (a succeeded run stays succeeded).
    """


class DataError(FtkitError):
    """A dataset cannot be used: unreadable, or it has errors that no fix removes."""

    exit_code = 2


class APIError(FtkitError):
    """A request to a fine-tuning API failed."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


class APIConnectionError(APIError):
    """The API could not be reached or the connection dropped before an answer."""


class APITimeoutError(APIConnectionError):
    """The API did not answer in time."""


class APIStatusError(APIError):
    """The API answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code


class BadRequestError(APIStatusError):
    """400: the request was rejected; `param` names the offending field when the API says."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: the file, job or model does not exist (or belongs to someone else)."""


class ConflictError(APIStatusError):
    """409: the object is in a state that does not allow this right now."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried with the server's delay."""


class QuotaExceededError(RateLimitError):
    """429 for an exhausted quota or daily limit: waiting a few seconds will not help."""


class InternalServerError(APIStatusError):
    """5xx: the provider failed; retried."""


class JobFailedError(FtkitError):
    """The remote fine-tune job ended in `failed`; carries the provider's error."""

    def __init__(
        self,
        job_id: str,
        *,
        code: str | None = None,
        message: str | None = None,
        param: str | None = None,
    ) -> None:
        detail = f"{code}: {message}" if code else (message or "no reason given")
        super().__init__(f"Fine-tune job {job_id} failed ({detail}).")
        self.job_id = job_id
        self.code = code
        self.error_message = message
        self.param = param


class JobCancelledError(FtkitError):
    """The remote fine-tune job was cancelled."""

    exit_code = 3

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Fine-tune job {job_id} was cancelled.")
        self.job_id = job_id
