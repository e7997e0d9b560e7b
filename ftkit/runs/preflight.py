"""Checks a run can make before Prefect starts: each fails in well under a second.

Prefect's start costs seconds; a missing data file, a malformed provider URL or an unset key
variable should not wait for it. The config itself is already validated by `load_config`.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ftkit.config import ExperimentConfig
from ftkit.errors import ConfigError, DataError


def preflight(config: ExperimentConfig) -> None:
    """Raise DataError or ConfigError for what would make the run fail at its first step."""
    for field, path in (
        ("data.source", config.data.source),
        ("data.validation_source", config.data.validation_source),
    ):
        if path is not None:
            check_readable(field, path)
    if config.provider.base_url is not None:
        check_base_url(config.provider.base_url)
    if config.provider.kind != "local" or config.provider.base_url:
        from ftkit.api.providers import resolve_endpoint

        resolve_endpoint(config.provider)  # a missing key (or URL) names what to set


def check_readable(field: str, path: Path) -> None:
    """A data file must exist, be a file and be readable."""
    if not path.exists():
        raise DataError(f"{path}: data file not found ({field}).")
    if not path.is_file():
        raise DataError(f"{path}: not a file ({field}).")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: the data file is not readable ({field}).")


def check_base_url(url: str) -> None:
    """provider.base_url must be an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(
            f"provider.base_url {url!r} is not an http(s) URL with a host "
            "(e.g. http://127.0.0.1:8000/v1)."
        )
