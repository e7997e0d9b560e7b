"""Serve run folders read-only over HTTP, so the report link in the Prefect UI opens.

    ftkit reports serve --runs-dir runs --port 8765
    → http://127.0.0.1:8765/<experiment>/<run-id>/report.html

Only GET and HEAD; only files under the runs directory (paths are resolved, symlinks included,
and anything that lands outside is a 404); folders list their own entries, nothing above the
runs directory is ever listed. Where the report link points is `report.base_url` in the config,
else the FTKIT_REPORTS_URL environment variable, else the report file's file:// URL.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

REPORTS_URL_ENV = "FTKIT_REPORTS_URL"


def report_url(report_html: Path, runs_dir: Path, base_url: str | None = None) -> str:
    """Where a report opens: under the reports server's base URL, else as a file:// URL."""
    base = base_url or os.environ.get(REPORTS_URL_ENV)
    if not base:
        return report_html.resolve().as_uri()
    relative = report_html.resolve().relative_to(runs_dir.resolve())
    return f"{base.rstrip('/')}/{quote(relative.as_posix())}"


def reports_app(runs_dir: Path) -> Starlette:
    """A read-only ASGI app over `runs_dir`: files as they are, folders as a list of links."""
    root = runs_dir.resolve()

    async def get(request: Request) -> Response:
        wanted = request.path_params["path"]
        target = (root / wanted).resolve()
        if not target.is_relative_to(root) or not target.exists():
            return Response("Not found\n", status_code=404, media_type="text/plain")
        if target.is_dir():
            if not request.url.path.endswith("/"):
                return RedirectResponse(request.url.path + "/")
            return HTMLResponse(_listing(root, target))
        return FileResponse(target)

    return Starlette(routes=[Route("/{path:path}", get, methods=["GET", "HEAD"])])


def _listing(root: Path, folder: Path) -> str:
    relative = folder.relative_to(root).as_posix()
    title = html.escape("runs/" if relative == "." else f"runs/{relative}/")
    entries = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    items = [
        f'<li><a href="{quote(p.name)}{"/" if p.is_dir() else ""}">'
        f"{html.escape(p.name)}{'/' if p.is_dir() else ''}</a></li>"
        for p in entries
        if not p.name.startswith(".")
    ]
    up = "" if folder == root else '<p><a href="../">..</a></p>'
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{up}<ul>{''.join(items)}</ul></body></html>"
    )
