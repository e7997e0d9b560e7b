"""Where requests go and how they authenticate, per provider kind.

Keys come only from the environment variable the provider config names (defaults:
OPENAI_API_KEY for openai and compatible, AZURE_OPENAI_API_KEY for azure); `local` needs none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ftkit.config import ProviderConfig
from ftkit.errors import ConfigError

DEFAULT_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "azure": "AZURE_OPENAI_API_KEY",
    "compatible": "OPENAI_API_KEY",
}
DEFAULT_AZURE_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class Endpoint:
    """A resolved provider: base URL, headers and query values every request carries."""

    kind: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    params: dict[str, str] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)

    def completions_path(self, model: str, chat: bool = False) -> str:
        """Azure addresses a deployment (named like the model); others a flat path."""
        tail = "/chat/completions" if chat else "/completions"
        return f"/deployments/{model}{tail}" if self.kind == "azure" else tail


def resolve_endpoint(
    provider: ProviderConfig, *, base_url: str | None = None, api_key: str | None = None
) -> Endpoint:
    """Resolve the base URL and credentials of a provider config (key from the environment)."""
    kind = provider.kind
    url = base_url or provider.base_url
    if url is None and kind == "openai":
        url = "https://api.openai.com/v1"
    if url is None:
        hint = (
            "start the embedded backend (`ftkit serve`) and pass its URL with --base-url"
            if kind == "local"
            else "set provider.base_url"
        )
        raise ConfigError(f"provider.base_url is required for provider kind {kind!r}: {hint}.")
    env = provider.api_key_env or DEFAULT_KEY_ENV.get(kind)
    key = api_key if api_key is not None else (os.environ.get(env) if env else None)
    if not key and (kind in ("openai", "azure") or provider.api_key_env):
        # a variable named in the config but unset would send no key: say which one
        raise ConfigError(
            f"No API key: set the environment variable {env} "
            f"(or name another one with provider.api_key_env)."
        )
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if kind == "azure":
        if key:
            headers["api-key"] = key
        params["api-version"] = provider.api_version or DEFAULT_AZURE_API_VERSION
    elif key:
        headers["Authorization"] = f"Bearer {key}"
    if provider.organization:
        headers["OpenAI-Organization"] = provider.organization
    return Endpoint(kind, url.rstrip("/"), headers, params, key or None)
