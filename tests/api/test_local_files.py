"""Names a provider chose become local paths only when they are plain file names inside their
folder; a download that fails leaves no `.part` file."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ftkit.api import Client
from ftkit.api.local_files import path_inside, plain_name
from ftkit.cli import app
from ftkit.config import ProviderConfig
from ftkit.errors import APIError

BAD_NAMES = {
    "..": "names a folder",
    ".": "names a folder",
    "../../x.jsonl": "is a path",
    "/tmp/abs.jsonl": "is a path",
    "a\\..\\b": "is a path",
    "a\x00b.jsonl": "control character",
    "": "is empty",
}


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES.items())
def test_a_name_that_is_not_a_plain_file_name_is_refused(
    tmp_path: Path, name: str, problem: str
) -> None:
    """The error names what the provider named and why it was refused."""
    with pytest.raises(APIError, match=problem) as info:
        path_inside(tmp_path, name, "file file-x")
    assert "file file-x" in str(info.value) and "nothing was written" in str(info.value)


def test_a_symlink_inside_the_folder_cannot_lead_out(tmp_path: Path) -> None:
    """A plain name that is a symlink to elsewhere is refused too."""
    folder, outside = tmp_path / "results", tmp_path / "outside.csv"
    folder.mkdir()
    (folder / "link.csv").symlink_to(outside)
    with pytest.raises(APIError, match="leads outside"):
        path_inside(folder, "link.csv", "a result file")
    assert path_inside(folder, "file-abc.csv", "a result file") == folder / "file-abc.csv"
    assert plain_name("file-abc", "a result file") == "file-abc"


def upload_named(backend_url: str, name: str) -> str:
    """Upload a small file whose stored name is `name` (raw multipart: any bytes pass)."""
    boundary = "hostile-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
        '{"a": 1}\n'
        f"\r\n--{boundary}--\r\n"
    ).encode()
    response = httpx.post(
        backend_url + "/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["filename"] == name
    return str(response.json()["id"])


@pytest.mark.parametrize("name", ["..", "../../x.jsonl", "/tmp/abs.jsonl", "a\x00b", ""])
def test_files_download_refuses_a_hostile_stored_name(
    backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:  # type: ignore[no-untyped-def]
    """`ftkit files download` of a file stored as `..` or a path: one error line that says to
    use --output, exit 1, and nothing written anywhere (no `.part` either)."""
    file_id = upload_named(backend.url, name)
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    result = CliRunner().invoke(app, ["files", "--base-url", backend.url, "download", file_id])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: The provider gave file") and "--output" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and backend.data_dir not in p.parents]
    assert written == []
    assert not Path("/tmp/abs.jsonl").exists()


def test_files_download_into_a_folder_uses_the_stored_name(backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`-o FOLDER` writes FOLDER/<stored name>; `-o FILE` writes where the user said."""
    file_id = upload_named(backend.url, "train.jsonl")
    base = ["files", "--base-url", backend.url, "download", file_id]
    assert CliRunner().invoke(app, [*base, "-o", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "train.jsonl").read_text() == '{"a": 1}\n'
    assert CliRunner().invoke(app, [*base, "-o", str(tmp_path / "mine.txt")]).exit_code == 0
    assert (tmp_path / "mine.txt").read_text() == '{"a": 1}\n'


def test_a_download_cut_off_midway_leaves_no_part_file(tmp_path: Path) -> None:
    """A body that breaks after the first chunk (no server sends that on purpose: a mock):
    the error propagates and neither the file nor `<file>.part` stays."""

    def chunks():  # type: ignore[no-untyped-def]
        yield b"first chunk\n"
        raise httpx.ReadError("connection reset mid-body")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = Client(ProviderConfig(kind="local"), base_url="http://x/v1", http_client=http)
    with client, pytest.raises(APIError):
        client.files.download("file-abc", tmp_path / "out.csv")
    assert os.listdir(tmp_path) == []
