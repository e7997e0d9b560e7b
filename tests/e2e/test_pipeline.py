"""The quickstart through the real flow, CLI and embedded backend: results, artifacts, failures."""

from __future__ import annotations

import asyncio
import json
import traceback
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    TaskRunFilter,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import ArtifactSort
from typer.testing import CliRunner

from ftkit.api import Client
from ftkit.cli import app
from ftkit.runs import RunIndex


def run_cli(*args: str) -> tuple[int, str, str]:
    """Invoke the CLI in-process; an unexpected exception is printed (pytest shows it)."""
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        traceback.print_exception(result.exception)
    return result.exit_code, result.stdout, result.stderr


def flow_run_artifacts(flow_run_id: str) -> dict[str, object]:
    """The flow run's artifacts by key, read back through the Prefect API.

    Sort and filters are passed explicitly: prefect's defaults send nulls, which FastAPI ≥ 0.151
    rejects (see the fastapi pin in pyproject.toml).
    """

    async def read() -> dict[str, object]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                ),
                flow_run_filter=FlowRunFilter(),
                task_run_filter=TaskRunFilter(),
                sort=ArtifactSort.CREATED_DESC,
                limit=50,
            )
        return {a.key: a for a in found}

    return asyncio.run(read())


def read_flow_run(flow_run_id: str) -> FlowRun:
    """A flow run as the Prefect API reports it."""

    async def read() -> FlowRun:
        async with get_client() as client:
            return await client.read_flow_run(UUID(flow_run_id))

    return asyncio.run(read())


def test_quickstart_runs_end_to_end_and_reruns_as_up_to_date(
    quickstart_args: list[str], tmp_path: Path, backend
) -> None:  # type: ignore[no-untyped-def]
    """One command trains, evaluates and reports; the same command again does nothing new."""
    code, out, err = run_cli("run", *quickstart_args, "--format", "json")
    assert code == 0, err
    outcome = json.loads(out)
    run_dir = Path(outcome["path"])
    state = outcome["state"]

    expected = {
        "config.yaml", "run.json", "job.json", "events.jsonl", "cursor.json",
        "prepared/train.jsonl", "prepared/valid.jsonl", "prepared/test.jsonl",
        "prepared/validation.json", "predictions.jsonl", "baseline_predictions.jsonl",
        "report.json", "report.md", "report.html",
    }  # fmt: skip
    files = {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}
    assert expected <= files
    assert [f"results/{state['job_id']}"] != [f for f in files if f.startswith("results/")]
    job = orjson.loads((run_dir / "job.json").read_bytes())
    assert [f"results/{file_id}.csv" for file_id in job["result_files"]] == sorted(
        f for f in files if f.startswith("results/") and f.endswith(".csv")
    )

    # the job trained and the fine-tuned model learned the task
    assert (job["status"], job["fine_tuned_model"]) == ("succeeded", state["fine_tuned_model"])
    assert job["trained_tokens"] > 0
    assert state["metrics"]["f1_macro"] > 0.7
    assert state["metrics"]["accuracy"] > 0.7
    assert state["metrics"]["train_loss"] > 0

    report = orjson.loads((run_dir / "report.json").read_bytes())
    assert report["status"] == state["status"] == "succeeded"  # the run's, not "running"
    assert state["attempt_timings"] == [state["timings"]]
    assert "prepare" in state["timings"] and "report" in state["timings"]

    events = [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    assert len({e["id"] for e in events}) == len(events)
    assert events[-1]["message"] == "The job has successfully completed"

    [entry] = RunIndex(tmp_path / "runs").entries()
    assert (entry.status, entry.fine_tuned_model) == ("succeeded", state["fine_tuned_model"])
    assert entry.metrics["f1_macro"] == state["metrics"]["f1_macro"]

    artifacts = flow_run_artifacts(state["flow_run_id"])
    assert {key: artifacts[key].type for key in artifacts} == {
        "support-tickets-progress": "progress",
        "support-tickets-loss": "markdown",
        "support-tickets-report": "markdown",
        "support-tickets-metrics": "table",
        "support-tickets-report-link": "markdown",
    }
    assert artifacts["support-tickets-progress"].data == 100.0
    assert artifacts["support-tickets-progress"].description == (
        f"Job {state['job_id']} succeeded at step 1440/1440"
    )
    # the loss curve while training and in the summary, beside the cost
    assert "](data:image/svg+xml;base64," in str(artifacts["support-tickets-loss"].data)
    summary = str(artifacts["support-tickets-report"].data)
    assert "## Loss" in summary and "](data:image/svg+xml;base64," in summary
    assert "## Cost" in summary and f"| trained (job) | {job['trained_tokens']:,} |" in summary
    flow_run = read_flow_run(state["flow_run_id"])
    assert flow_run.name == f"support-tickets/{state['run_id']}"
    assert {"experiment:support-tickets", "provider:local", "model:babbage-002", "n_epochs=3"} <= (
        set(flow_run.tags)
    )
    assert "f1_macro" in str(artifacts["support-tickets-metrics"].data)
    assert (run_dir / "report.html").as_uri() in str(artifacts["support-tickets-report-link"].data)

    code, out, _ = run_cli("run", *quickstart_args)
    assert code == 0
    assert "(up to date)" in out
    with Client(base_url=backend.url) as client:
        assert [state["job_id"]] == [j.id for j in client.jobs.list()]


def test_failed_job_surfaces_in_exit_code_artifact_and_index(
    quickstart_args: list[str], tmp_path: Path, backend
) -> None:  # type: ignore[no-untyped-def]
    """A job that fails at step 300 exits 1 with the provider's error code and message everywhere;
    the progress artifact shows where it stopped."""
    backend.set_faults(fail_job_at_step=300, fail_job_code="server_error")
    code, out, err = run_cli("run", *quickstart_args)
    assert code == 1
    assert "server_error" in err
    assert "Traceback" not in err + out

    [entry] = RunIndex(tmp_path / "runs").entries()
    assert entry.status == "failed"
    assert entry.error is not None and entry.error.startswith("server_error: ")
    state = orjson.loads((tmp_path / "runs" / entry.path / "run.json").read_bytes())
    artifacts = flow_run_artifacts(state["flow_run_id"])
    failure = artifacts["support-tickets-failure"]
    assert "server_error" in str(failure.data)
    assert state["error"]["message"] in str(failure.data)
    progress = artifacts["support-tickets-progress"]
    assert progress.description == f"Job {state['job_id']} failed after step 285/1440"
    assert progress.data == 19.8  # the last step the job reported, not the last redraw


def test_data_error_exits_2_without_creating_a_job(
    quickstart_args: list[str], tmp_path: Path, backend
) -> None:  # type: ignore[no-untyped-def]
    """Unusable data fails fast: exit 2, the finding on stderr, nothing sent to the provider,
    and a failure artifact lists each finding with its file, lines, check and message."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "only one"}\nnot json\n', encoding="utf-8")
    code, _, err = run_cli("run", *quickstart_args, f"data.source={bad}")
    assert code == 2
    assert "bad.jsonl" in err
    with Client(base_url=backend.url) as client:
        assert client.jobs.list() == []
    [entry] = RunIndex(tmp_path / "runs").entries()
    state = orjson.loads((tmp_path / "runs" / entry.path / "run.json").read_bytes())
    failure = str(flow_run_artifacts(state["flow_run_id"])["support-tickets-failure"].data)
    assert f"| error | {bad} | 2 | invalid_json | Lines are not valid JSON" in failure
    assert f"| error | {bad} | 1 | missing_key | Lines lack a required key (completion)" in failure
    assert "\\n" not in failure


def test_detach_returns_once_the_job_exists_and_follow_finishes_it(
    quickstart_args: list[str], tmp_path: Path, backend, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """`run --detach` stops after creating the job; `follow RUN` re-attaches and completes it."""
    args = [*quickstart_args, "evaluate.baseline=null"]
    code, out, err = run_cli("run", *args, "--detach", "--format", "json")
    assert code == 0, err
    detached = json.loads(out)["state"]
    assert (detached["status"], detached["stage"]) == ("running", "create_job")

    code, out, err = run_cli(
        "follow", detached["run_id"][:6], "--runs-dir", str(tmp_path / "runs"), "--format", "json"
    )
    assert code == 0, err
    state = json.loads(out)["state"]
    assert (state["status"], state["job_id"], state["attempts"]) == (
        "succeeded",
        detached["job_id"],
        2,
    )
    assert f"Re-attached to existing job {detached['job_id']}" in caplog.text
    assert len(state["attempt_timings"]) == 2


def test_provider_error_is_one_line_without_traceback(quickstart_args: list[str]) -> None:
    """An unknown base model is the provider's 400 in one line, exit 1, no traceback."""
    code, out, err = run_cli("run", *quickstart_args, "job.model=nope-001")
    assert code == 1
    assert "error: create a fine-tune job failed: HTTP 400 [model_not_available]" in err
    assert "Traceback" not in err + out


def test_legacy_dialect_runs_the_same_pipeline_with_server_side_metrics(
    quickstart_args: list[str],
) -> None:
    """/v1/fine-tunes works unchanged; class count comes from the data for server metrics."""
    code, out, err = run_cli(
        "run", *quickstart_args, "provider.dialect=legacy",
        "job.classification.compute_metrics=true", "evaluate.baseline=null", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    state = json.loads(out)["state"]
    assert state["status"] == "succeeded"
    assert state["metrics"]["classification/accuracy"] > 0.7
    events = (Path(json.loads(out)["path"]) / "events.jsonl").read_bytes().splitlines()
    assert len({orjson.loads(line)["id"] for line in events}) == len(events)


def test_flaky_provider_still_gives_one_job_and_a_complete_run(
    quickstart_args: list[str], backend
) -> None:  # type: ignore[no-untyped-def]
    """With 30% of API requests rate-limited (429), retries carry the run; still one job."""
    backend.set_faults(error_rate=0.3, error_status=429, retry_after_ms=10, seed=5)
    code, out, err = run_cli(
        "run", *quickstart_args, "evaluate.baseline=null", "provider.max_retries=5",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["state"]["status"] == "succeeded"
    assert any(r["status"] == 429 for r in backend.stats()["requests"])
    backend.clear_faults()
    with Client(base_url=backend.url) as client:
        assert len(client.jobs.list()) == 1
