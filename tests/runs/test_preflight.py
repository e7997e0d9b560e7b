"""`ftkit run` reports a missing data file, a bad provider URL or an unset key variable before
Prefect starts: exit 2, one line naming the file or setting, no traceback, no server started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
FTKIT = Path(sys.executable).parent / "ftkit"


def ftkit_run(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    env.pop("FTKIT_TEST_UNSET_KEY", None)
    return subprocess.run(
        [str(FTKIT), "run", str(QUICKSTART), f"runs_dir={tmp_path / 'runs'}", *overrides],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["data.source=nowhere/tickets.jsonl"], ["nowhere/tickets.jsonl", "data.source"]),
        (["provider.base_url=htp://127.0.0.1:8000/v1"], ["provider.base_url", "htp://"]),
        (
            [
                "provider.kind=compatible",
                "provider.base_url=http://127.0.0.1:9/v1",
                "provider.api_key_env=FTKIT_TEST_UNSET_KEY",
            ],
            ["FTKIT_TEST_UNSET_KEY"],
        ),
        (["provider.kind=openai"], ["OPENAI_API_KEY"]),
    ],
    ids=["missing-data-file", "bad-base-url", "compatible-unset-key", "openai-unset-key"],
)
def test_bad_inputs_fail_before_prefect_starts(
    tmp_path: Path, overrides: list[str], named: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    done = ftkit_run(tmp_path, *overrides)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for text in named:
        assert text in line
    assert not (tmp_path / "prefect").exists(), "Prefect (or its server) was started"
