"""Files API: upload, list, retrieve, delete, content, and the fine-tune upload checks."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from ftkit.backend import BackendSettings
from ftkit.backend.testing import started_backend
from tests.backend.conftest import upload


def test_upload_returns_a_processed_file_with_the_given_filename(api: httpx.Client) -> None:
    """The part's filename is stored verbatim; the file is `processed` at once."""
    content = b'{"prompt": "a", "completion": " b"}\n'
    response = api.post(
        "/files",
        files={"file": ("./data/training_data_2.jsonl", content)},
        data={"purpose": "fine-tune"},
    )
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"file-[A-Za-z0-9]{24}", body["id"])
    assert body["filename"] == "./data/training_data_2.jsonl"
    assert body["bytes"] == len(content)
    assert (body["object"], body["purpose"], body["status"]) == ("file", "fine-tune", "processed")
    assert list(body) == [
        "object",
        "id",
        "purpose",
        "filename",
        "bytes",
        "created_at",
        "status",
        "status_details",
    ]


def test_every_response_carries_a_request_id(api: httpx.Client) -> None:
    """`x-request-id: req_<32 hex>` on successes and errors alike."""
    for response in (api.get("/files"), api.get("/files/file-nope"), api.get("/nowhere")):
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])


def test_content_returns_the_uploaded_bytes(api: httpx.Client, train_file: Path) -> None:
    """Content is byte-identical to the upload."""
    file = upload(api, train_file)
    assert api.get(f"/files/{file['id']}/content").content == train_file.read_bytes()


def test_list_pages_newest_first_with_cursor(api: httpx.Client, tmp_path: Path) -> None:
    """`limit`/`after`/`order`/`purpose` page through files; has_more, first_id, last_id."""
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    ids = [upload(api, path, purpose="assistants")["id"] for _ in range(3)]
    page = api.get("/files", params={"limit": 2}).json()
    assert [f["id"] for f in page["data"]] == ids[::-1][:2]
    assert (page["has_more"], page["first_id"], page["last_id"]) == (True, ids[2], ids[1])
    rest = api.get("/files", params={"limit": 2, "after": page["last_id"]}).json()
    assert [f["id"] for f in rest["data"]] == [ids[0]] and rest["has_more"] is False
    ascending = api.get("/files", params={"order": "asc"}).json()
    assert [f["id"] for f in ascending["data"]] == ids
    assert api.get("/files", params={"purpose": "fine-tune"}).json()["data"] == []


def test_retrieve_and_delete(api: httpx.Client, train_file: Path) -> None:
    """Retrieve returns the File object; delete removes it and its bytes."""
    file = upload(api, train_file)
    assert api.get(f"/files/{file['id']}").json() == file
    deleted = api.delete(f"/files/{file['id']}").json()
    assert deleted == {"id": file["id"], "object": "file", "deleted": True}
    assert api.get(f"/files/{file['id']}/content").status_code == 404


def test_unknown_file_is_404_in_openai_shape(api: httpx.Client) -> None:
    """404 body: No such File object, param id, all four keys."""
    response = api.get("/files/file-abc123")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "No such File object: file-abc123",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }
    }


def test_fine_tune_upload_rejects_a_line_that_is_not_a_dictionary(api: httpx.Client) -> None:
    """Line-numbered legacy wording with the line's first characters."""
    content = b'{"prompt": "a", "completion": " b"}\n{"prompt": oops}\n'
    response = api.post(
        "/files", files={"file": ("bad.jsonl", content)}, data={"purpose": "fine-tune"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Expected file to have JSONL format, where every line is a JSON dictionary. "
        'Line 2 is not a dictionary (HINT: line starts with: "{"p...").'
    )
    assert api.get("/files").json()["data"] == []


def test_fine_tune_upload_needs_the_jsonl_extension(api: httpx.Client) -> None:
    """A .csv name is refused with the real text."""
    response = api.post(
        "/files", files={"file": ("data.csv", b"{}\n")}, data={"purpose": "fine-tune"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Invalid file format for Fine-Tuning API. Must be .jsonl"
    )


def test_upload_needs_a_known_purpose_and_a_file(api: httpx.Client) -> None:
    """Missing or unknown purpose, missing file, non-multipart body: 400."""
    missing = api.post("/files", files={"file": ("a.jsonl", b"{}\n")})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "purpose"
    unknown = api.post("/files", files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "x"})
    assert unknown.status_code == 400 and "'x' is not one of" in unknown.json()["error"]["message"]
    no_file = api.post("/files", files={"other": ("a", b"")}, data={"purpose": "batch"})
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"
    assert api.post("/files", json={"purpose": "batch"}).status_code == 400


def test_upload_over_the_size_limit_is_413(tmp_path: Path) -> None:
    """A file larger than max_upload_bytes is refused and nothing is kept."""
    settings = BackendSettings(data_dir=tmp_path / "data", max_upload_bytes=1000)
    with started_backend(settings) as backend, httpx.Client(base_url=backend.url) as api:
        small = api.post(
            "/files", files={"file": ("a.txt", b"x" * 1000)}, data={"purpose": "batch"}
        )
        assert small.status_code == 200
        big = api.post("/files", files={"file": ("b.txt", b"x" * 1001)}, data={"purpose": "batch"})
        assert big.status_code == 413
        assert big.json()["error"]["type"] == "invalid_request_error"
        assert len(api.get("/files").json()["data"]) == 1
    assert sorted(p.name for p in (tmp_path / "data" / "files").iterdir()) == [small.json()["id"]]
