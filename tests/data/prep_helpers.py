"""Helpers for the data-preparation tests: build small files, find findings."""

from __future__ import annotations

import json
from typing import Any

from ftkit.data.models import Finding, PreparedData


def pc_lines(
    n: int, *, labels: tuple[str, ...] = (" yes", " no"), sep: str = "\n\n###\n\n"
) -> list[dict[str, str]]:
    """n distinct classification examples cycling through `labels`."""
    return [
        {"prompt": f"Question number {i}?{sep}", "completion": labels[i % len(labels)]}
        for i in range(n)
    ]


def jsonl(rows: list[Any]) -> bytes:
    """Rows as JSONL bytes; str rows are written as they are."""
    return b"".join(
        (row if isinstance(row, str) else json.dumps(row)).encode() + b"\n" for row in rows
    )


def finding(prepared: PreparedData, code: str) -> Finding:
    """The finding with this code (fails the test when absent)."""
    found = [f for f in prepared.findings if f.code == code]
    assert found, f"no {code} finding in {[f.code for f in prepared.findings]}"
    return found[0]


def codes(prepared: PreparedData) -> set[str]:
    """All finding codes."""
    return {f.code for f in prepared.findings}
