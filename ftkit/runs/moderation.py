"""The optional moderation pre-screen between prepare and upload (`data.moderation`).

OpenAI runs its own moderation on training files after the upload and rejects a file that
fails it; screening first turns that late, whole-file rejection into a list of lines. Every
training and validation example (prompt and completion, or every message's text) goes to the
provider's `/v1/moderations` in batches (each batch retried like any call). Flagged lines and
their categories are recorded in `prepared/validation.json` (`moderation`) and the report; then,
by `on_flagged`: `fail` stops the run before anything is uploaded, `drop` rewrites the split
files without them (moving them to `prepared/flagged-<split>.jsonl`, so nothing is lost),
`warn` uploads everything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from ftkit.api.async_client import AsyncClient
from ftkit.config import ExperimentConfig, ModerationConfig
from ftkit.data.models import FlaggedLine, ModerationScreen, PreparedData, SplitName
from ftkit.errors import DataError
from ftkit.runs.folder import RunFolder

SCREENED_SPLITS: tuple[SplitName, ...] = ("train", "validation")


async def screen(
    client: AsyncClient, run: RunFolder, config: ExperimentConfig, prepared: PreparedData
) -> PreparedData:
    """Screen the prepared splits once (a resumed run reuses the result); act on flags."""
    settings = config.data.moderation
    if settings is None:
        return prepared
    if prepared.moderation is None:
        prepared = await _screen(client, settings, prepared)
        run.validation_json.write_text(prepared.model_dump_json(indent=2), encoding="utf-8")
    result = prepared.moderation
    if result is not None and result.on_flagged == "fail" and result.flagged:
        raise DataError(result.summary())
    return prepared


async def _screen(
    client: AsyncClient, settings: ModerationConfig, prepared: PreparedData
) -> PreparedData:
    flagged: list[FlaggedLine] = []
    screened = 0
    splits = dict(prepared.splits)
    dropped = 0
    for split in SCREENED_SPLITS:
        info = splits.get(split)
        if info is None:
            continue
        path = Path(info.path)
        lines = path.read_bytes().splitlines(keepends=True)
        texts = [_example_text(orjson.loads(line)) for line in lines]
        results: list[dict[str, Any]] = []
        for start in range(0, len(texts), settings.batch_size):
            batch = texts[start : start + settings.batch_size]
            results += await client.moderations.create(settings.model, batch)
        screened += len(texts)
        here = [
            FlaggedLine(split=split, line=number, categories=_categories(result))
            for number, result in enumerate(results, start=1)
            if result.get("flagged")
        ]
        flagged += here
        if settings.on_flagged == "drop" and here:
            bad = {f.line for f in here}
            kept = [line for n, line in enumerate(lines, start=1) if n not in bad]
            removed = [line for n, line in enumerate(lines, start=1) if n in bad]
            (path.parent / f"flagged-{split}.jsonl").write_bytes(b"".join(removed))
            path.write_bytes(b"".join(kept))
            dropped += len(removed)
            splits[split] = info.model_copy(
                update={
                    "examples": len(kept),
                    "sha256": hashlib.sha256(b"".join(kept)).hexdigest(),
                    "tokens": None,  # counted before the drop; not recounted
                    "label_counts": _minus(info.label_counts, removed),
                }
            )
    result = ModerationScreen(
        model=settings.model,
        on_flagged=settings.on_flagged,
        screened=screened,
        flagged=flagged,
        dropped=dropped,
    )
    return prepared.model_copy(update={"moderation": result, "splits": splits})


def _example_text(example: Any) -> str:
    """What moderation reads: prompt + completion, or every message's text."""
    if not isinstance(example, dict):
        return str(example)
    if "messages" in example:
        parts = []
        for message in example.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            parts.append(str(content or ""))
        return "\n".join(parts)
    return f"{example.get('prompt', '')}{example.get('completion', '')}"


def _categories(result: dict[str, Any]) -> list[str]:
    return sorted(name for name, on in (result.get("categories") or {}).items() if on)


def _minus(counts: dict[str, int], removed: list[bytes]) -> dict[str, int]:
    """Label counts without the removed examples (labels as the counts spell them)."""
    left = dict(counts)
    for line in removed:
        completion = orjson.loads(line).get("completion")
        for label in (completion, str(completion).strip()):
            if label in left:
                left[label] -= 1
                break
    return {label: count for label, count in left.items() if count}
