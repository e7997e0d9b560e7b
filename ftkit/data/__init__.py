"""Data preparation: streaming reading, checks, fixes, splitting and token counting.

Public surface: `prepare_dataset`, `PreparedData`, `SplitInfo`, `Finding`, `DataValidationError`
(imported lazily, so `import ftkit.data.tokens` stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.data.models import DataValidationError, Finding, PreparedData, SplitInfo
    from ftkit.data.prepare import prepare_dataset

__all__ = ["DataValidationError", "Finding", "PreparedData", "SplitInfo", "prepare_dataset"]


def __getattr__(name: str) -> Any:
    if name == "prepare_dataset":
        from ftkit.data.prepare import prepare_dataset

        return prepare_dataset
    if name in __all__:
        from ftkit.data import models

        return getattr(models, name)
    raise AttributeError(name)
