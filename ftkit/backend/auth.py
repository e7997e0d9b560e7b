"""API keys: no keys = one open organization; otherwise each key is its own organization."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ftkit.backend.errors import unauthorized

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
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise unauthorized(NO_KEY_TEXT, code=None)
        for known, org in self._orgs.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return org
        raise unauthorized(
            f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
