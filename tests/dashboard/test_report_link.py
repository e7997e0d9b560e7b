"""The report link in the Prefect UI opens the run's report over HTTP, clicked in headless Chromium.

A real `prefect server start` (the UI is not part of the test harness), `ftkit reports serve` over
the runs folder, and `ftkit run` of the quickstart pointing its report links at that server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flows.local_server import prefect_server, reports_server
from ftkit.browser import chromium_path, headless_chromium

ROOT = Path(__file__).resolve().parents[2]
FTKIT = str(Path(sys.executable).parent / "ftkit")

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="headless Chromium is not installed (apt-get install chromium)"
)


def link_artifact(api_url: str, key: str) -> dict[str, str]:
    """The latest artifact under a key (its id is `latest_id`), read through the Prefect REST API."""
    found = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={"artifacts": {"key": {"any_": [key]}}, "sort": "KEY_ASC", "limit": 1},
        timeout=30,
    )
    found.raise_for_status()
    [artifact] = found.json()
    return artifact


@pytest.mark.slow
def test_report_link_in_the_prefect_ui_opens_the_report_over_http(tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    runs = tmp_path / "runs"
    runs.mkdir()
    with prefect_server() as api_url, reports_server(runs) as reports_url:
        done = subprocess.run(
            [FTKIT, "run", str(ROOT / "configs" / "quickstart.yaml"), f"runs_dir={runs}",
             f"provider.base_url={backend.url}", f"report.base_url={reports_url}",
             "--format", "json"],
            env={**os.environ, "PREFECT_API_URL": api_url},
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        run_id = json.loads(done.stdout)["state"]["run_id"]
        report_link = f"{reports_url}/support-tickets/{run_id}/report.html"
        artifact = link_artifact(api_url, "support-tickets-report-link")
        assert f"]({report_link})" in artifact["data"]

        with headless_chromium() as browser:
            ui = f"{api_url.removesuffix('/api')}/artifacts/artifact/{artifact['latest_id']}"
            browser.new_page(ui).click(f'a[href="{report_link}"]')
            report = browser.wait_for_page(report_link)  # the same tab or a new one
            title = report.wait_for("document.readyState === 'complete' && document.title")
            heading = report.evaluate("document.querySelector('h1').textContent")

    assert run_id in title
    assert "support-tickets" in heading and run_id in heading
