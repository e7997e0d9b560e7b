"""/v1/fine_tuning/jobs: lifecycle, hyperparameters, listing, events, checkpoints, errors,
pause/resume/cancel, result CSV and model names."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.conftest import (
    DONE,
    chat_rows,
    classification_rows,
    upload,
    wait_for,
    write_jsonl,
)


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """POST /fine_tuning/jobs, asserting success."""
    response = api.post("/fine_tuning/jobs", json={"model": "babbage-002", **body})
    assert response.status_code == 200, response.text
    return response.json()


def all_events(api: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """Every event, newest first, following `after` cursors."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = api.get(f"/fine_tuning/jobs/{job_id}/events", params=params).json()
        events += page["data"]
        if not page["has_more"]:
            return events
        params["after"] = page["data"][-1]["id"]


def test_job_goes_from_validating_to_succeeded(
    api: httpx.Client, train_file: Path, valid_file: Path
) -> None:
    """validating_files → queued → running → succeeded, told by the §5.5 events in order."""
    train, valid = upload(api, train_file), upload(api, valid_file)
    job = create(
        api, training_file=train["id"], validation_file=valid["id"], suffix="Drone", seed=7
    )
    assert re.fullmatch(r"ftjob-[A-Za-z0-9]{24}", job["id"])
    assert job["status"] == "validating_files" and job["object"] == "fine_tuning.job"
    assert job["hyperparameters"] == {
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
        "n_epochs": "auto",
    }
    assert (job["seed"], job["fine_tuned_model"], job["error"], job["result_files"]) == (
        7,
        None,
        None,
        [],
    )
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["status"] == "succeeded"
    assert re.fullmatch(r"ft:babbage-002:personal:drone:[A-Za-z0-9]{8}", final["fine_tuned_model"])
    assert final["hyperparameters"] == {
        "batch_size": 1,
        "learning_rate_multiplier": 0.05,
        "n_epochs": 4,
    }
    assert final["method"]["supervised"]["hyperparameters"] == final["hyperparameters"]
    assert final["trained_tokens"] > 0 and final["finished_at"] >= final["created_at"]
    messages = [
        e["message"] for e in reversed(all_events(api, job["id"])) if e["type"] == "message"
    ]
    assert messages[:4] == [
        f"Created fine-tuning job: {job['id']}",
        f"Validating training file: {train['id']} and validation file: {valid['id']}",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
    ]
    assert messages[-2:] == [
        f"New fine-tuned model created: {final['fine_tuned_model']}",
        "The job has successfully completed",
    ]


def test_events_page_newest_first_and_include_metrics(api: httpx.Client, train_file: Path) -> None:
    """Metrics events carry step data; `after` pages to strictly older events."""
    job = create(api, training_file=upload(api, train_file)["id"], hyperparameters={"n_epochs": 1})
    wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    events = all_events(api, job["id"])
    created = [e["created_at"] for e in events]
    assert created == sorted(created, reverse=True)
    assert len({e["id"] for e in events}) == len(events)
    metrics = [e for e in events if e["type"] == "metrics"]
    assert metrics[0]["message"].startswith("Step 60/60: training loss=")
    assert set(metrics[0]["data"]) >= {
        "step",
        "train_loss",
        "train_mean_token_accuracy",
        "total_steps",
    }
    assert [m["data"]["step"] for m in metrics] == sorted(
        (m["data"]["step"] for m in metrics), reverse=True
    )
    first = api.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 1}).json()
    assert first["has_more"] is True and first["data"][0] == events[0]
    unknown = {"after": "ftevent-unknown"}  # an unknown cursor is an empty page, as for files
    nothing = api.get(f"/fine_tuning/jobs/{job['id']}/events", params=unknown).json()
    assert (nothing["data"], nothing["has_more"]) == ([], False)


def test_checkpoints_keep_the_last_three_epochs(api: httpx.Client, train_file: Path) -> None:
    """4 epochs → checkpoints of epochs 2–4, newest first, named after the final model."""
    job = create(api, training_file=upload(api, train_file)["id"])
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    page = api.get(f"/fine_tuning/jobs/{job['id']}/checkpoints").json()
    assert [c["step_number"] for c in page["data"]] == [240, 180, 120]
    top = page["data"][0]
    assert top["fine_tuned_model_checkpoint"] == f"{final['fine_tuned_model']}:ckpt-step-240"
    assert top["metrics"]["step"] == 240 and "train_loss" in top["metrics"]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (
        top["id"],
        page["data"][-1]["id"],
        False,
    )
    older = api.get(
        f"/fine_tuning/jobs/{job['id']}/checkpoints", params={"after": top["id"], "limit": 1}
    ).json()
    assert [c["step_number"] for c in older["data"]] == [180] and older["has_more"] is True
    served = api.post(
        "/completions", json={"model": top["fine_tuned_model_checkpoint"], "prompt": "great"}
    )
    assert served.status_code == 200
    retrieved = api.get(f"/models/{top['fine_tuned_model_checkpoint']}").json()
    assert (retrieved["root"], retrieved["parent"]) == (final["model"], final["fine_tuned_model"])


def test_result_file_is_the_step_csv_base64_encoded(api: httpx.Client, train_file: Path) -> None:
    """Columns step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy (5 decimals)."""
    job = create(api, training_file=upload(api, train_file)["id"], hyperparameters={"n_epochs": 1})
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    [result_id] = final["result_files"]
    meta = api.get(f"/files/{result_id}").json()
    assert (meta["purpose"], meta["filename"]) == ("fine-tune-results", "step_metrics.csv")
    lines = base64.b64decode(api.get(f"/files/{result_id}/content").content).decode().splitlines()
    assert lines[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(lines) == 61 and lines[1].startswith("1,") and lines[1].endswith(",,")
    assert all(len(cell.split(".")[-1]) <= 5 for cell in lines[1].split(",")[1:3])


def test_method_hyperparameters_and_metadata_filter(api: httpx.Client, train_file: Path) -> None:
    """method.supervised.hyperparameters are used; list filters by metadata[k]=v, newest first."""
    file = upload(api, train_file)["id"]
    a = create(
        api,
        training_file=file,
        method={
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}},
        },
        metadata={"run": "a"},
        integrations=[{"type": "wandb", "wandb": {"project": "p"}}],
    )
    b = create(api, training_file=file, metadata={"run": "b"}, hyperparameters={"n_epochs": 1})
    assert a["hyperparameters"]["n_epochs"] == 1 and a["hyperparameters"]["batch_size"] == 4
    assert a["integrations"][0]["wandb"]["project"] == "p"
    listed = api.get("/fine_tuning/jobs").json()
    assert [j["id"] for j in listed["data"]] == [b["id"], a["id"]]
    only_a = api.get("/fine_tuning/jobs", params={"metadata[run]": "a"}).json()
    assert [j["id"] for j in only_a["data"]] == [a["id"]]
    page = api.get("/fine_tuning/jobs", params={"limit": 1}).json()
    assert page["has_more"] is True
    after = api.get("/fine_tuning/jobs", params={"after": page["data"][0]["id"]}).json()
    assert [j["id"] for j in after["data"]] == [a["id"]]
    final = wait_for(api, f"/fine_tuning/jobs/{a['id']}", DONE)
    assert final["hyperparameters"]["batch_size"] == 4


def test_too_few_examples_fail_validation(api: httpx.Client, tmp_path: Path) -> None:
    """<10 examples: validating_files → failed with error invalid_n_examples."""
    file = upload(api, write_jsonl(tmp_path / "t.jsonl", classification_rows(3)))
    job = create(api, training_file=file["id"])
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["status"] == "failed"
    assert final["error"] == {
        "code": "invalid_n_examples",
        "message": "Training file has 3 example(s), but must have at least 10 examples",
        "param": "training_file",
    }
    statuses = [e["message"] for e in all_events(api, job["id"])]
    assert "Fine-tuning job started" not in statuses
    assert statuses[0].startswith("The job failed: Training file has 3")


def test_chat_data_for_a_completion_model_is_an_invalid_training_file(
    api: httpx.Client, tmp_path: Path
) -> None:
    """Format mismatch: error code invalid_training_file naming the format."""
    file = upload(api, write_jsonl(tmp_path / "chat.jsonl", chat_rows(12)))
    final = wait_for(api, f"/fine_tuning/jobs/{create(api, training_file=file['id'])['id']}", DONE)
    assert final["error"]["code"] == "invalid_training_file"
    assert "fine-tune-chat format" in final["error"]["message"]


def test_pause_and_resume_finish_the_job_without_repeating_events(
    backend: Any, api: httpx.Client, train_file: Path
) -> None:
    """running (with an estimated finish) → paused → queued → running → succeeded; each
    step's metrics event once."""
    backend.set_timing(step_seconds=0.01)
    job = create(api, training_file=upload(api, train_file)["id"], hyperparameters={"n_epochs": 1})
    wait_for(api, f"/fine_tuning/jobs/{job['id']}", ("running",))
    deadline = time.monotonic() + 10
    while (running := api.get(f"/fine_tuning/jobs/{job['id']}").json())["estimated_finish"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert running["estimated_finish"] >= running["created_at"]
    paused = api.post(f"/fine_tuning/jobs/{job['id']}/pause").json()
    assert paused["estimated_finish"] is None
    assert paused["status"] == "paused"
    assert api.post(f"/fine_tuning/jobs/{job['id']}/pause").status_code == 400
    backend.set_timing(step_seconds=0)
    resumed = api.post(f"/fine_tuning/jobs/{job['id']}/resume").json()
    assert resumed["status"] == "queued"
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["status"] == "succeeded"
    events = all_events(api, job["id"])
    steps = [e["data"]["step"] for e in events if e["type"] == "metrics"]
    assert len(steps) == len(set(steps)) == 60
    messages = [e["message"] for e in events]
    assert "Fine-tuning job paused" in messages and "Fine-tuning job resumed" in messages


def test_cancel_stops_training_and_finished_jobs_refuse_changes(
    backend: Any, api: httpx.Client, train_file: Path
) -> None:
    """Cancel a running job; cancel/pause/resume of a finished job: 400."""
    backend.set_timing(step_seconds=0.05)
    job = create(api, training_file=upload(api, train_file)["id"])
    wait_for(api, f"/fine_tuning/jobs/{job['id']}", ("running",))
    cancelled = api.post(f"/fine_tuning/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["fine_tuned_model"] is None
    for action in ("cancel", "pause", "resume"):
        response = api.post(f"/fine_tuning/jobs/{job['id']}/{action}")
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("Job has already completed")
    assert all_events(api, job["id"])[0]["message"] == "Fine-tuning job cancelled"


def test_metadata_can_script_a_failure_at_a_step(api: httpx.Client, train_file: Path) -> None:
    """metadata ftkit_fail_at_step=5 fails the job at step 5 with a server_error."""
    job = create(
        api, training_file=upload(api, train_file)["id"], metadata={"ftkit_fail_at_step": "5"}
    )
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["status"] == "failed" and final["error"]["code"] == "server_error"
    assert "step 5" in final["error"]["message"]
    steps = [e["data"]["step"] for e in all_events(api, job["id"]) if e["type"] == "metrics"]
    assert max(steps) < 5


def test_chat_fine_tune_serves_chat_completions(api: httpx.Client, tmp_path: Path) -> None:
    """A gpt-4o-mini job on chat data yields an ft: model that answers chat completions."""
    file = upload(api, write_jsonl(tmp_path / "chat.jsonl", chat_rows(40)))
    job = create(api, training_file=file["id"], model="gpt-4o-mini")
    assert job["model"] == "gpt-4o-mini-2024-07-18"
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["fine_tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:personal::")
    answer = api.post(
        "/chat/completions",
        json={
            "model": final["fine_tuned_model"],
            "messages": chat_rows(2)[1]["messages"][:2],
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 2,
        },
    ).json()
    choice = answer["choices"][0]
    assert answer["object"] == "chat.completion" and choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Rome"
    assert choice["logprobs"]["content"][0]["logprob"] <= 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-9"}, "model"),
        ({"model": "curie"}, "model"),
        ({"training_file": "file-nope"}, "training_file"),
        ({"hyperparameters": {"n_epochs": 51}}, "hyperparameters.n_epochs"),
        ({"method": {"type": "dpo"}}, "method.type"),
        ({"seed": -1}, "seed"),
        ({"metadata": {"ftkit_fail_at_step": "x"}}, "metadata"),
    ],
)
def test_create_rejects_invalid_requests(
    api: httpx.Client, train_file: Path, body: dict[str, Any], param: str
) -> None:
    """Unknown models, files, out-of-range values: 400 naming the parameter."""
    payload = {"model": "babbage-002", "training_file": upload(api, train_file)["id"], **body}
    response = api.post("/fine_tuning/jobs", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_unknown_job_is_404(api: httpx.Client) -> None:
    """Every job route answers 404 for an unknown id."""
    for method, suffix in [
        ("GET", ""),
        ("POST", "/cancel"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("GET", "/events"),
        ("GET", "/checkpoints"),
    ]:
        response = api.request(method, f"/fine_tuning/jobs/ftjob-nope{suffix}")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No such FineTuningJob object: ftjob-nope"


def test_a_job_whose_training_crashes_fails_instead_of_hanging(
    backend: Any, api: httpx.Client, train_file: Path
) -> None:
    """Training file deleted while queued: the worker fails and the job ends `failed`."""
    backend.set_timing(queue_seconds=30)
    file = upload(api, train_file)
    job = create(api, training_file=file["id"])
    wait_for(api, f"/fine_tuning/jobs/{job['id']}", ("queued",))
    api.delete(f"/files/{file['id']}")
    backend.set_timing(time_scale=0)
    final = wait_for(api, f"/fine_tuning/jobs/{job['id']}", DONE)
    assert final["status"] == "failed" and final["error"]["code"] in (
        "server_error",
        "invalid_training_file",
    )
