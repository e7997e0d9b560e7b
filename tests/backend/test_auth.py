"""API keys: open without keys; with keys a Bearer key is required and each is an organization."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ftkit.backend import BackendSettings
from ftkit.backend.testing import BackendHandle, started_backend
from tests.backend.conftest import upload

KEY_A = "sk-test-alpha-0123456789"
KEY_B = "sk-test-bravo-9876543210"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[BackendHandle]:
    """A backend that accepts two keys."""
    settings = BackendSettings(data_dir=tmp_path / "data", api_keys=[KEY_A, KEY_B])
    with started_backend(settings) as handle:
        yield handle


def client(backend: BackendHandle, key: str | None) -> httpx.Client:
    """A client sending `key` as Bearer (or no header)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=backend.url, headers=headers, timeout=30)


def test_open_server_needs_no_key(api: httpx.Client) -> None:
    """Without --api-key every request is accepted."""
    assert api.get("/models").status_code == 200


def test_missing_key_is_401(keyed: BackendHandle) -> None:
    """No Authorization header: 401 explaining how to pass a key."""
    response = client(keyed, None).get("/files")
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")


def test_wrong_key_is_401_with_the_key_masked(keyed: BackendHandle) -> None:
    """Wrong key: invalid_api_key, and the message never contains the key."""
    wrong = "sk-wrong-secret-value-42"
    response = client(keyed, wrong).get("/files")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith("Incorrect API key provided: sk-...****.")
    assert wrong not in response.text and "secret" not in response.text


def test_organizations_cannot_see_each_other(keyed: BackendHandle, train_file: Path) -> None:
    """Files and jobs of key A are 404 for key B and absent from B's lists."""
    alpha, bravo = client(keyed, KEY_A), client(keyed, KEY_B)
    file = upload(alpha, train_file)
    job = alpha.post(
        "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
    ).json()
    assert bravo.get(f"/files/{file['id']}").status_code == 404
    assert bravo.get(f"/files/{file['id']}/content").status_code == 404
    assert bravo.delete(f"/files/{file['id']}").status_code == 404
    assert bravo.get(f"/fine_tuning/jobs/{job['id']}").status_code == 404
    assert bravo.post(f"/fine_tuning/jobs/{job['id']}/cancel").status_code == 404
    assert bravo.get("/files").json()["data"] == []
    assert bravo.get("/fine_tuning/jobs").json()["data"] == []
    refused = bravo.post(
        "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
    )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "training_file"
    assert job["organization_id"] != "org-personal"


def test_fine_tuned_models_belong_to_their_organization(
    keyed: BackendHandle, train_file: Path
) -> None:
    """B can neither list, retrieve, use nor delete A's fine-tuned model."""
    from tests.backend.conftest import DONE, wait_for

    alpha, bravo = client(keyed, KEY_A), client(keyed, KEY_B)
    file = upload(alpha, train_file)
    job = alpha.post("/fine-tunes", json={"training_file": file["id"], "model": "ada"}).json()
    model = wait_for(alpha, f"/fine-tunes/{job['id']}", DONE)["fine_tuned_model"]
    assert model.startswith("ada:ft-org-")
    assert model in [m["id"] for m in alpha.get("/models").json()["data"]]
    assert model not in [m["id"] for m in bravo.get("/models").json()["data"]]
    assert bravo.get(f"/models/{model}").status_code == 404
    assert bravo.delete(f"/models/{model}").status_code == 404
    used = bravo.post("/completions", json={"model": model, "prompt": "x"})
    assert used.status_code == 404 and used.json()["error"]["code"] == "model_not_found"
    assert alpha.post("/completions", json={"model": model, "prompt": "x"}).status_code == 200
