"""Legacy /v1/fine-tunes: create defaults and rules, events (list and SSE), results, names."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.conftest import DONE, classification_rows, upload, wait_for, write_jsonl

NAME = re.compile(r"ada:ft-personal-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}")


def create(api: httpx.Client, **body: Any) -> httpx.Response:
    """POST /fine-tunes."""
    return api.post("/fine-tunes", json=body)


def stream_events(api: httpx.Client, fine_tune_id: str) -> list[str]:
    """The raw `data:` payloads of the SSE stream, until it ends."""
    payloads = []
    with api.stream("GET", f"/fine-tunes/{fine_tune_id}/events", params={"stream": "true"}) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        for line in s.iter_lines():
            if line.startswith("data: "):
                payloads.append(line.removeprefix("data: "))
    return payloads


def test_create_starts_pending_with_documented_defaults(
    api: httpx.Client, train_file: Path
) -> None:
    """pending, curie, 4 epochs, plw 0.01, batch/lr null until running, Created event."""
    file = upload(api, train_file)
    body = create(api, training_file=file["id"]).json()
    assert re.fullmatch(r"ft-[A-Za-z0-9]{24}", body["id"])
    assert (body["object"], body["status"], body["model"]) == ("fine-tune", "pending", "curie")
    assert body["hyperparams"] == {
        "n_epochs": 4,
        "batch_size": None,
        "prompt_loss_weight": 0.01,
        "learning_rate_multiplier": None,
    }
    assert body["training_files"][0]["id"] == file["id"]
    assert (body["validation_files"], body["result_files"], body["fine_tuned_model"]) == (
        [],
        [],
        None,
    )
    assert body["events"] == [
        {
            "object": "fine-tune-event",
            "created_at": body["created_at"],
            "level": "info",
            "message": f"Created fine-tune: {body['id']}",
        }
    ]


def test_stream_replays_history_then_live_events_then_done(
    api: httpx.Client, train_file: Path, valid_file: Path
) -> None:
    """The SSE stream carries the §3.6 texts in order and ends with [DONE]."""
    train, valid = upload(api, train_file), upload(api, valid_file)
    job = create(
        api, training_file=train["id"], validation_file=valid["id"], model="ada", n_epochs=2
    ).json()
    payloads = stream_events(api, job["id"])
    assert payloads[-1] == "[DONE]"
    messages = [json.loads(p)["message"] for p in payloads[:-1]]
    final = api.get(f"/fine-tunes/{job['id']}").json()
    assert messages[:4] == [
        f"Created fine-tune: {job['id']}",
        messages[1],
        "Fine-tune enqueued. Queue number: 0",
        "Fine-tune started",
    ]
    assert re.fullmatch(r"Fine-tune costs \$\d+\.\d{2}", messages[1])
    assert messages[4:] == [
        "Completed epoch 1/2",
        "Completed epoch 2/2",
        f"Uploaded model: {final['fine_tuned_model']}",
        f"Uploaded result file: {final['result_files'][0]['id']}",
        "Fine-tune succeeded",
    ]
    assert NAME.fullmatch(final["fine_tuned_model"])
    assert [e["message"] for e in final["events"]] == messages
    listed = api.get(f"/fine-tunes/{job['id']}/events").json()
    assert [e["message"] for e in listed["data"]] == messages


def test_succeeded_job_fills_hyperparams_and_result_file(
    api: httpx.Client, train_file: Path, valid_file: Path
) -> None:
    """Binary classification metrics: §4.1 columns, validation and classification rows."""
    train, valid = upload(api, train_file), upload(api, valid_file)
    job = create(
        api,
        training_file=train["id"],
        validation_file=valid["id"],
        model="ada",
        compute_classification_metrics=True,
        classification_positive_class=" positive",
        classification_betas=[0.5, 2],
        suffix="My Model!",
    ).json()
    final = wait_for(api, f"/fine-tunes/{job['id']}", DONE)
    assert final["status"] == "succeeded"
    assert re.fullmatch(r"ada:ft-personal:my-model-\d{4}(-\d{2}){5}", final["fine_tuned_model"])
    assert final["hyperparams"]["batch_size"] == 1
    assert final["hyperparams"]["learning_rate_multiplier"] == 0.05
    assert final["hyperparams"]["classification_positive_class"] == " positive"
    result = final["result_files"][0]
    assert (result["purpose"], result["filename"]) == ("fine-tune-results", "compiled_results.csv")
    text = api.get(f"/files/{result['id']}/content").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:9] == [
        "step",
        "elapsed_tokens",
        "elapsed_examples",
        "training_loss",
        "training_sequence_accuracy",
        "training_token_accuracy",
        "validation_loss",
        "validation_sequence_accuracy",
        "validation_token_accuracy",
    ]
    assert {"classification/accuracy", "classification/f1.0", "classification/auroc"} <= set(
        rows[0]
    )
    assert [r["step"] for r in rows] == [str(i) for i in range(1, 60 * 4 + 1)]
    classified = [r for r in rows if r["classification/accuracy"]]
    assert len(classified) == 4 and classified[-1] is rows[-1]
    assert any(r["validation_loss"] for r in rows)
    assert float(rows[-1]["classification/accuracy"]) > 0.8


def test_list_omits_events_and_cancel_stops_a_running_job(
    backend: Any, api: httpx.Client, train_file: Path
) -> None:
    """Cancel mid-training: status cancelled, `Fine-tune cancelled` event, the stream ends."""
    backend.set_timing(step_seconds=0.05)
    file = upload(api, train_file)
    job = create(api, training_file=file["id"], model="ada").json()
    wait_for(api, f"/fine-tunes/{job['id']}", ("running",))
    listed = api.get("/fine-tunes").json()
    assert [j["id"] for j in listed["data"]] == [job["id"]] and "events" not in listed["data"][0]
    cancelled = api.post(f"/fine-tunes/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["events"][-1]["message"] == "Fine-tune cancelled"
    assert stream_events(api, job["id"])[-1] == "[DONE]"
    again = api.post(f"/fine-tunes/{job['id']}/cancel")
    assert again.status_code == 400
    assert api.get(f"/fine-tunes/{job['id']}").json()["fine_tuned_model"] is None


def test_too_few_examples_fail_with_an_error_event(api: httpx.Client, tmp_path: Path) -> None:
    """Fewer than 10 examples: the job fails; the reason, then `Fine-tune failed`."""
    file = upload(api, write_jsonl(tmp_path / "tiny.jsonl", classification_rows(7)))
    job = create(api, training_file=file["id"], model="ada").json()
    final = wait_for(api, f"/fine-tunes/{job['id']}", DONE)
    assert final["status"] == "failed"
    assert [e["message"] for e in final["events"][-2:]] == [
        "Training file has 7 example(s), but must have at least 10 examples",
        "Fine-tune failed",
    ]
    assert final["events"][-1]["level"] == "error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"compute_classification_metrics": True, "classification_n_classes": 2},
            "validation_file",
        ),
        (
            {"compute_classification_metrics": True, "validation_file": "VALID"},
            "classification_n_classes",
        ),
        ({"classification_betas": [1.0], "classification_n_classes": 3}, "classification_betas"),
        (
            {"classification_positive_class": " a", "classification_n_classes": 3},
            "classification_positive_class",
        ),
        ({"model": "gpt-3.5-turbo"}, "model"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"training_file": "file-missing"}, "training_file"),
        ({"unknown_argument": 1}, "unknown_argument"),
    ],
)
def test_create_rejects_invalid_requests(
    api: httpx.Client, train_file: Path, valid_file: Path, body: dict[str, Any], param: str
) -> None:
    """Classification rules, models, ranges, files and unknown arguments: 400 with `param`."""
    train, valid = upload(api, train_file), upload(api, valid_file)
    payload = {"training_file": train["id"], **body}
    if payload.get("validation_file") == "VALID":
        payload["validation_file"] = valid["id"]
    response = create(api, **payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_null_suffix_is_rejected_like_the_real_api(api: httpx.Client, train_file: Path) -> None:
    """An explicit JSON null suffix: `None is not of type 'string' - 'suffix'`."""
    file = upload(api, train_file)
    response = create(api, training_file=file["id"], suffix=None)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "None is not of type 'string' - 'suffix'"


def test_fine_tuning_a_fine_tuned_model_continues_it(api: httpx.Client, train_file: Path) -> None:
    """A legacy fine-tuned model is accepted as `model`; the new name keeps the root base."""
    file = upload(api, train_file)
    first = create(api, training_file=file["id"], model="ada", n_epochs=1).json()
    parent = wait_for(api, f"/fine-tunes/{first['id']}", DONE)["fine_tuned_model"]
    second = create(api, training_file=file["id"], model=parent, n_epochs=1).json()
    assert second["model"] == parent
    final = wait_for(api, f"/fine-tunes/{second['id']}", DONE)
    assert final["status"] == "succeeded" and NAME.fullmatch(final["fine_tuned_model"])


def test_unknown_fine_tune_is_404(api: httpx.Client) -> None:
    """Retrieve, cancel and events of an unknown id: 404."""
    for response in (
        api.get("/fine-tunes/ft-nope"),
        api.post("/fine-tunes/ft-nope/cancel"),
        api.get("/fine-tunes/ft-nope/events"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No such FineTune object: ft-nope"


def test_queue_numbers_count_down_while_jobs_wait(tmp_path: Path, train_file: Path) -> None:
    """With one training slot, later jobs are enqueued behind earlier ones and count down."""
    from ftkit.backend import BackendSettings
    from ftkit.backend.testing import started_backend

    settings = BackendSettings(data_dir=tmp_path / "data", max_running_jobs=1, step_seconds=0.002)
    with started_backend(settings) as backend, httpx.Client(base_url=backend.url) as api:
        file = upload(api, train_file)
        ids = [
            create(api, training_file=file["id"], model="ada", n_epochs=1).json()["id"]
            for _ in range(3)
        ]
        finals = [wait_for(api, f"/fine-tunes/{job_id}", DONE) for job_id in ids]
    assert all(f["status"] == "succeeded" for f in finals)
    queue_messages = [
        [e["message"] for e in f["events"] if "queue" in e["message"].lower()] for f in finals
    ]
    assert queue_messages[0] == ["Fine-tune enqueued. Queue number: 0"]
    first, *countdown = queue_messages[2]
    assert first in ("Fine-tune enqueued. Queue number: 1", "Fine-tune enqueued. Queue number: 2")
    numbers = [int(first.rsplit(" ", 1)[1])] + [int(m.rsplit(" ", 1)[1]) for m in countdown]
    assert numbers == list(range(numbers[0], -1, -1))
    assert all(m.startswith("Fine-tune is in the queue. Queue number: ") for m in countdown)
