"""Object ids shaped like OpenAI's (prefix + random alphanumerics)."""

from __future__ import annotations

import secrets
import string
import uuid

_ALNUM = string.ascii_letters + string.digits


def random_alnum(length: int) -> str:
    """`length` random letters and digits."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """An id such as `file-` + 24 alphanumerics."""
    return prefix + random_alnum(length)


def request_id() -> str:
    """`req_` + 32 hex digits, as in the `x-request-id` header."""
    return "req_" + uuid.uuid4().hex
