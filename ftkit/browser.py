"""Headless Chromium driven over the DevTools protocol, with no driver library.

The dashboard test clicks the report link in the Prefect UI with it and
`scripts/dashboard_screenshots.py` photographs the UI. Chromium (Debian's `chromium`) is started
with `--remote-debugging-port=0`; it writes the port it chose to `DevToolsActivePort` in its
profile folder, and one websocket (the `websockets` package Prefect already brings) carries the
commands to each page.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import connect
from websockets.sync.connection import Connection

from ftkit.processes import stop_process


def chromium_path() -> str | None:
    """The Chromium executable on PATH, if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One browser tab: navigate, evaluate JavaScript, wait for a condition, screenshot."""

    def __init__(self, browser: Browser, target_id: str, session_id: str) -> None:
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command to this page and return its result."""
        return self.browser.send(method, session_id=self.session_id, **params)

    def goto(self, url: str) -> None:
        """Navigate to a URL (returns once the navigation is committed, not loaded)."""
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 60.0) -> Any:
        """Poll a JavaScript expression until it is truthy (not throwing); return its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # e.g. no document.body yet while the page loads
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"page never satisfied: {expression}")
            time.sleep(0.25)

    def click(self, selector: str) -> None:
        """Click the centre of the first element matching a CSS selector, as a mouse does."""
        box = self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect(); return {x: r.x + r.width / 2,"
            " y: r.y + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the viewport."""
        data = self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))


class Browser:
    """A headless Chromium process and its DevTools connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.ids = itertools.count(1)

    def send(self, method: str, session_id: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and wait for its answer (events in between are skipped)."""
        message_id = next(self.ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session_id is not None:
            message["sessionId"] = session_id
        self.connection.send(json.dumps(message))
        while True:
            answer = json.loads(self.connection.recv(timeout=120))
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method} failed: {answer['error']}")
                return dict(answer.get("result", {}))

    def new_page(self, url: str = "about:blank", width: int = 1400, height: int = 1000) -> Page:
        """Open a tab at a URL, sized width × height."""
        target_id = self.send("Target.createTarget", url=url)["targetId"]
        return self.attach(target_id, width, height)

    def attach(self, target_id: str, width: int = 1400, height: int = 1000) -> Page:
        """Drive an open tab (e.g. one a link opened)."""
        session_id = self.send("Target.attachToTarget", targetId=target_id, flatten=True)[
            "sessionId"
        ]
        page = Page(self, target_id, session_id)
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page

    def pages(self) -> list[dict[str, Any]]:
        """The open tabs: targetId, url, title."""
        infos = self.send("Target.getTargets")["targetInfos"]
        return [info for info in infos if info["type"] == "page"]

    def wait_for_page(self, url: str, timeout_s: float = 60.0) -> Page:
        """The tab that shows a URL, once one does (e.g. after a click on a link to it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for page in self.pages():
                if page["url"] == url:
                    return self.attach(page["targetId"])
            time.sleep(0.25)
        raise TimeoutError(f"no tab shows {url}; open: {[p['url'] for p in self.pages()]}")


@contextmanager
def headless_chromium(executable: str | None = None) -> Iterator[Browser]:
    """Start headless Chromium with a throwaway profile; stop it on exit."""
    executable = executable or chromium_path()
    if executable is None:
        raise RuntimeError("headless Chromium is not installed (Debian: apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="ftkit-chromium-"))
    process = subprocess.Popen(
        [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().split()) == 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("headless Chromium did not start")
            time.sleep(0.1)
        port, path = port_file.read_text().split()
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as connection:
            yield Browser(connection)
    finally:
        stop_process(process, timeout_s=10)
        shutil.rmtree(profile, ignore_errors=True)
