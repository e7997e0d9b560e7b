"""API keys: no keys = one open organization; otherwise each key is its own organization."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from ftkit.backend.errors import unauthorized
from ftkit.errors import ConfigError

NO_KEY_TEXT = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)


@dataclass(frozen=True)
class Org:
    """The organization a request acts for: `id` goes in objects, `slug` in model names."""

    id: str
    slug: str


OPEN_ORG = Org(id="org-personal", slug="personal")


def org_for_key(key: str) -> Org:
    """A stable organization derived from a key (a hash; the key itself is never stored)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Org(id=f"org-{digest[:24]}", slug=f"org-{digest[:8]}")


def mask_key(key: str) -> str:
    """A key as error messages show it: `sk-...****` (never more of the secret)."""
    return ("sk-" if key.startswith("sk-") else "") + "...****"


def bearer_key(authorization: str | None) -> str:
    """The key of an `Authorization: Bearer KEY` header ("" when there is none)."""
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def is_admin(authorization: str | None, admin_key: str | None) -> bool:
    """True when the header carries `admin_key` (compared in constant time)."""
    key = bearer_key(authorization)
    if not admin_key or not key:
        return False
    return hmac.compare_digest(key.encode(), admin_key.encode())


class KeyRing:
    """Resolves `Authorization` headers to organizations."""

    def __init__(self, keys: list[str]) -> None:
        self._orgs = {key: org_for_key(key) for key in keys}

    @property
    def open(self) -> bool:
        """True when the server takes requests without a key."""
        return not self._orgs

    def resolve(self, authorization: str | None) -> Org:
        """The caller's organization; raises 401 for a missing or unknown key."""
        if self.open:
            return OPEN_ORG
        key = bearer_key(authorization)
        if not key:
            raise unauthorized(NO_KEY_TEXT, code=None)
        for known, org in self._orgs.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return org
        raise unauthorized(
            f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )


def read_key_file(path: Path) -> list[str]:
    """The keys in `path`: one per line; blank lines and `#` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        msg = f"cannot read the key file {path}: {reason}"
        raise ConfigError(msg) from None
    keys = []
    for number, line in enumerate(lines, start=1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if any(char.isspace() for char in key):
            msg = f"{path}, line {number}: a key cannot contain spaces (one key per line)"
            raise ConfigError(msg)
        keys.append(key)
    if not keys:
        msg = f"the key file {path} holds no key (one key per line; # starts a comment)"
        raise ConfigError(msg)
    return keys
