"""The HTML report opened in headless Chromium: every section renders and every image loads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ftkit.config import ExperimentConfig
from ftkit.report import report_run

MakeRun = Callable[..., tuple[Path, ExperimentConfig]]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECTIONS = (
    "overview",
    "gate",
    "metrics",
    "plots",
    "per-class",
    "confusion",
    "errors",
    "training",
    "data",
    "cost",
    "config",
)
# Injected into a copy of the page: once everything has loaded, write what the browser sees.
PROBE = """<script>
window.addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                                                  width: i.naturalWidth}));
  const sections = [...document.querySelectorAll('section, dl')].map(s => ({
    id: s.id, height: s.getBoundingClientRect().height}));
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({images, sections, title: document.title});
  document.body.appendChild(out);
});
</script>"""

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    chromium is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)


def _chromium(tmp_path: Path, *args: str) -> str:
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_report_page_renders_sections_and_loads_every_image(
    make_run: MakeRun, tmp_path: Path
) -> None:
    """Chromium shows each section with content and decodes each embedded plot; a screenshot is kept."""
    run_dir, config = make_run(gate={"metric": "f1_macro", "min": 0.5})
    _, paths = report_run(run_dir, config)
    page = paths.html.read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))

    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    match = re.search(r"<pre id=\"probe\">(.*?)</pre>", dom, re.S)
    assert match, "the probe script did not run"
    seen = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert seen["title"] == "ftkit report: sentiment / run1"
    assert len(seen["images"]) == 6
    assert all(image["ok"] and image["width"] > 100 for image in seen["images"]), seen["images"]
    heights = {section["id"]: section["height"] for section in seen["sections"]}
    for section in SECTIONS:
        assert heights.get(section, 0) > 20, f"section {section} is missing or empty"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,4000", paths.html.as_uri())
    assert shot.read_bytes()[:4] == b"\x89PNG"
