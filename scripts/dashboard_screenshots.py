"""Screenshots of what a fine-tuner sees in the Prefect UI after a quickstart run.

    .venv/bin/python scripts/dashboard_screenshots.py [--out DIR]

Starts a local `prefect server start` (free port, throwaway PREFECT_HOME) and `ftkit reports
serve`, runs the quickstart pipeline against them (runs under a temp folder), then takes
headless-Chromium screenshots: the flow run page, its Artifacts tab, and the loss chart and
report summary artifacts. Prints the paths of the PNGs (default folder: screenshots/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from flows.local_server import prefect_server, reports_server
from ftkit.browser import Page, headless_chromium

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SETTLE_S = 5.0
"""After the page shows its content: time for fonts, charts and the flow run graph to draw."""


def run_quickstart(api_url: str, runs_dir: Path, reports_url: str) -> dict[str, str]:
    """`ftkit run configs/quickstart.yaml` against the server; the run's state (run.json)."""
    done = subprocess.run(
        [str(BIN / "ftkit"), "run", str(ROOT / "configs" / "quickstart.yaml"),
         f"runs_dir={runs_dir}", f"report.base_url={reports_url}", "--format", "json"],
        env={**os.environ, "PREFECT_API_URL": api_url},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout)["state"])


def latest_artifact_id(api_url: str, key: str) -> str:
    """The id of the newest artifact under a key."""
    found = httpx.post(
        f"{api_url}/artifacts/latest/filter",
        json={"artifacts": {"key": {"any_": [key]}}, "sort": "KEY_ASC", "limit": 1},
        timeout=30,
    )
    found.raise_for_status()
    return str(found.json()[0]["latest_id"])


def shoot(page: Page, url: str, ready: str, path: Path) -> Path:
    """Open a UI page, wait until a JavaScript condition holds, and save a screenshot."""
    page.goto(url)
    page.wait_for(ready, timeout_s=120)
    time.sleep(SETTLE_S)
    page.screenshot(path)
    return path


def main() -> None:
    """Run the quickstart on a local server and photograph its flow run and artifacts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="PNG folder")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(tempfile.mkdtemp(prefix="ftkit-screenshots-")) / "runs"
    runs_dir.mkdir()
    with prefect_server() as api_url, reports_server(runs_dir) as reports_url:
        state = run_quickstart(api_url, runs_dir, reports_url)
        ui = api_url.removesuffix("/api")
        experiment = state["experiment"]
        flow_run = f"{ui}/runs/flow-run/{state['flow_run_id']}"
        named = f"document.body.innerText.includes('{experiment}/{state['run_id']}')"
        shots = []
        with headless_chromium() as browser:
            page = browser.new_page(width=1400, height=1000)
            shots.append(shoot(page, flow_run, named, out / "flow-run.png"))
            page.click("li.p-tab#artifacts")
            page.wait_for(f"document.body.innerText.includes('{experiment}-loss')")
            time.sleep(SETTLE_S)
            page.send("Emulation.setDeviceMetricsOverride", width=1400, height=1500,
                      deviceScaleFactor=1, mobile=False)  # fmt: skip
            page.evaluate("document.querySelector('#artifacts').scrollIntoView()")
            time.sleep(SETTLE_S)
            page.screenshot(out / "flow-run-artifacts.png")
            shots.append(out / "flow-run-artifacts.png")
            for key, name in (("loss", "loss-chart"), ("report", "report-summary")):
                artifact = (
                    f"{ui}/artifacts/artifact/{latest_artifact_id(api_url, f'{experiment}-{key}')}"
                )
                loaded = "[...document.images].some(i => i.src.startsWith('data:image/svg') && i.complete)"
                shots.append(shoot(page, artifact, loaded, out / f"{name}.png"))
    for shot in shots:
        print(shot)


if __name__ == "__main__":
    main()
