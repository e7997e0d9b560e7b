"""`ftkit reports serve`: run folders over HTTP, read-only, nothing outside the runs directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ftkit.report.serve import REPORTS_URL_ENV, report_url, reports_app


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "support-tickets" / "2ee206ff11e3"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<h1>Report: support-tickets / 2ee206ff11e3</h1>")
    (tmp_path / "secret.txt").write_text("outside")
    (run / "escape").symlink_to(tmp_path / "secret.txt")
    return tmp_path / "runs"


def test_serves_report_files_and_lists_folders(runs: Path) -> None:
    client = TestClient(reports_app(runs))
    page = client.get("/support-tickets/2ee206ff11e3/report.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Report: support-tickets / 2ee206ff11e3" in page.text
    assert '<a href="2ee206ff11e3/">' in client.get("/support-tickets/").text
    moved = client.get("/support-tickets", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (307, "/support-tickets/")


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/support-tickets/2ee206ff11e3/escape",  # a symlink that leads outside
        f"/{'%2F'}etc{'%2F'}passwd",
        "/nope.html",
    ],
)
def test_nothing_outside_the_runs_directory_is_served(runs: Path, path: str) -> None:
    response = TestClient(reports_app(runs)).get(path)
    assert response.status_code == 404
    assert "outside" not in response.text


def test_it_is_read_only(runs: Path) -> None:
    client = TestClient(reports_app(runs))
    for method in ("POST", "PUT", "DELETE"):
        assert client.request(method, "/support-tickets/").status_code == 405


def test_report_links_point_at_the_server_else_at_the_file(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = runs / "support-tickets" / "2ee206ff11e3" / "report.html"
    monkeypatch.delenv(REPORTS_URL_ENV, raising=False)
    assert report_url(report, runs) == report.resolve().as_uri()
    monkeypatch.setenv(REPORTS_URL_ENV, "http://reports.example:8765/")
    assert report_url(report, runs) == (
        "http://reports.example:8765/support-tickets/2ee206ff11e3/report.html"
    )
    assert report_url(report, runs, "http://127.0.0.1:9/ft") == (
        "http://127.0.0.1:9/ft/support-tickets/2ee206ff11e3/report.html"
    )
