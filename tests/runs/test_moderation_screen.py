"""The `data.moderation` pre-screen against the embedded backend's real /v1/moderations."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ftkit.api.async_client import AsyncClient
from ftkit.config import ExperimentConfig
from ftkit.data.models import PreparedData
from ftkit.errors import DataError
from ftkit.runs import moderation, steps
from ftkit.runs.folder import RunFolder

RUDE = ("You are a stupid worthless idiot.", "Shut up, you pathetic moron.")


def dataset(path: Path) -> Path:
    """40 polite support answers, two of them rude."""
    rows = []
    for i in range(40):
        answer = RUDE[i % 2] if i in (7, 23) else f"Thanks for asking, ticket {i} is solved."
        rows.append({"prompt": f"Customer question number {i} ->", "completion": f" {answer}\n"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def screened(
    tmp_path: Path, backend: Any, on_flagged: str
) -> tuple[RunFolder, PreparedData | DataError]:
    """Prepare the dataset into a run folder and screen it; the result or the DataError."""
    config = ExperimentConfig.model_validate(
        {
            "name": "screen",
            "data": {
                "source": str(dataset(tmp_path / "support.jsonl")),
                "moderation": {"on_flagged": on_flagged, "batch_size": 8},
            },
            "runs_dir": str(tmp_path / "runs"),
        }
    )
    run = RunFolder(tmp_path / "runs" / "screen" / "r1")
    run.prepared_dir.mkdir(parents=True)
    prepared = steps.prepare(run, config)

    async def go() -> PreparedData:
        async with AsyncClient(config.provider, base_url=backend.url, api_key="t") as client:
            return await moderation.screen(client, run, config, prepared)

    try:
        return run, asyncio.run(go())
    except DataError as error:
        return run, error


def recorded(run: RunFolder) -> PreparedData:
    """validation.json as written."""
    return PreparedData.model_validate_json(run.validation_json.read_text())


def flagged_texts(run: RunFolder, prepared: PreparedData) -> set[str]:
    """The completions of the lines the screen flagged."""
    result = prepared.moderation
    assert result is not None
    texts = set()
    for flag in result.flagged:
        lines = Path(prepared.splits[flag.split].path).read_text().splitlines()
        texts.add(json.loads(lines[flag.line - 1])["completion"].strip())
    return texts


def test_warn_lists_the_rude_lines_with_categories_and_keeps_them(
    tmp_path: Path, backend: Any
) -> None:
    """Exactly the two rude examples are flagged (as harassment); nothing is removed."""
    run, prepared = screened(tmp_path, backend, "warn")
    assert isinstance(prepared, PreparedData) and prepared.moderation is not None
    assert recorded(run).moderation == prepared.moderation
    in_screened_splits = sum(prepared.splits[s].examples for s in ("train", "validation"))
    assert prepared.moderation.screened == in_screened_splits
    assert all(f.categories == ["harassment"] for f in prepared.moderation.flagged)
    assert flagged_texts(run, prepared) <= set(RUDE)
    held_back = Path(prepared.splits["test"].path).read_text()
    assert len(prepared.moderation.flagged) == sum(r not in held_back for r in RUDE)


def test_drop_moves_flagged_lines_out_of_the_upload(tmp_path: Path, backend: Any) -> None:
    """The split files lose the flagged lines, which are kept in flagged-<split>.jsonl."""
    run, prepared = screened(tmp_path, backend, "drop")
    assert isinstance(prepared, PreparedData) and prepared.moderation is not None
    moved = list(run.prepared_dir.glob("flagged-*.jsonl"))
    kept = "".join(Path(prepared.splits[s].path).read_text() for s in ("train", "validation"))
    assert not any(rude in kept for rude in RUDE)
    assert prepared.moderation.dropped == len(prepared.moderation.flagged) > 0
    assert sum(len(p.read_text().splitlines()) for p in moved) == prepared.moderation.dropped
    assert recorded(run).splits == prepared.splits


def test_fail_stops_before_upload_naming_lines_and_categories(tmp_path: Path, backend: Any) -> None:
    """A DataError naming split, line and category; the finding is in validation.json."""
    run, error = screened(tmp_path, backend, "fail")
    assert isinstance(error, DataError)
    assert "line" in str(error) and "(harassment)" in str(error)
    screen = recorded(run).moderation
    assert screen is not None and screen.flagged


@pytest.mark.parametrize("on_flagged", ["bogus"])
def test_unknown_action_is_a_config_error(tmp_path: Path, on_flagged: str) -> None:
    """Only fail, drop and warn exist."""
    with pytest.raises(ValueError, match="on_flagged"):
        ExperimentConfig.model_validate(
            {"name": "x", "data": {"source": "d.jsonl", "moderation": {"on_flagged": on_flagged}}}
        )
