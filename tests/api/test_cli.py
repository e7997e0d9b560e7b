"""`ftkit files` and `ftkit jobs` against the embedded backend, through typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ftkit.cli import app

from .conftest import make_client, write_training_file

runner = CliRunner()


def ftkit(backend, *args: str, dialect: str = "jobs"):
    return runner.invoke(app, [args[0], "--base-url", backend.url, "--dialect", dialect, *args[1:]])


def test_files_commands(backend, tmp_path):
    """upload (reusing identical content), list, get, download, delete; --format json."""
    path = write_training_file(tmp_path / "train.jsonl")
    first = ftkit(backend, "files", "upload", str(path), "--format", "json")
    assert first.exit_code == 0, first.output
    file_id = json.loads(first.stdout)["id"]
    again = ftkit(backend, "files", "upload", str(path))
    assert again.output.strip() == f"Uploaded file from {path}: {file_id}"
    listed = json.loads(ftkit(backend, "files", "list", "--format", "json").stdout)
    assert [item["id"] for item in listed] == [file_id]
    assert file_id in ftkit(backend, "files", "get", file_id).output
    out = tmp_path / "copy.jsonl"
    assert ftkit(backend, "files", "download", file_id, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == path.read_bytes()
    assert ftkit(backend, "files", "delete", file_id).output.strip() == f"Deleted {file_id}."


def test_missing_file_is_one_line_error(backend):
    """An API error prints one line on stderr, no traceback, exit code 1."""
    result = ftkit(backend, "files", "get", "file-doesnotexist")
    assert result.exit_code == 1
    assert result.output.startswith("error: get file file-doesnotexist failed: HTTP 404")
    assert "Traceback" not in result.output


def test_without_base_url_local_uses_the_backend_state_ftkit_run_uses(monkeypatch, tmp_path):
    """No --base-url with provider local: the embedded backend runs on its default state
    folder (the one `ftkit run` uses), so what one command stored the next one sees."""
    from ftkit.runs.endpoint import default_backend_dir

    monkeypatch.delenv("FTKIT_BASE_URL", raising=False)
    path = write_training_file(tmp_path / "train.jsonl")
    local = ["files", "--provider", "local"]
    uploaded = runner.invoke(app, [*local, "upload", str(path), "--format", "json"])
    assert uploaded.exit_code == 0, uploaded.output
    listed = runner.invoke(app, [*local, "list", "--format", "json"])
    assert [item["id"] for item in json.loads(listed.stdout)] == [json.loads(uploaded.stdout)["id"]]
    assert default_backend_dir().is_dir()


def test_jobs_create_follow_and_inspect(backend, tmp_path):
    """create --follow prints legacy-style lines and exits 0; get/list/events/results/checkpoints."""
    path = write_training_file(tmp_path / "train.jsonl")
    created = ftkit(backend, "jobs", "create", "-t", str(path), "--n-epochs", "1", "--follow")
    assert created.exit_code == 0, created.output
    lines = created.stdout.splitlines()
    assert lines[0].startswith("Created fine-tune: ftjob-")
    job_id = lines[0].split(": ")[1]
    assert any(line.startswith("[") and "] Fine-tuning job started" in line for line in lines)
    assert "Job complete! Status: succeeded" in created.output
    job = json.loads(ftkit(backend, "jobs", "get", job_id, "--format", "json").stdout)
    assert job["status"] == "succeeded"
    assert job_id in ftkit(backend, "jobs", "list").output
    events = json.loads(ftkit(backend, "jobs", "events", job_id, "--format", "json").stdout)
    assert events[0]["message"] == f"Created fine-tuning job: {job_id}"
    results = json.loads(ftkit(backend, "jobs", "results", job_id, "--format", "json").stdout)
    assert results["final_train_loss"] is not None
    points = json.loads(ftkit(backend, "jobs", "checkpoints", job_id, "--format", "json").stdout)
    assert points
    followed = ftkit(backend, "jobs", "follow", job_id, "--cursor", str(tmp_path / "c.json"))
    assert followed.exit_code == 0
    assert json.loads((tmp_path / "c.json").read_text())["seen"] == len(events)


def test_follow_exit_codes_reflect_the_outcome(backend, tmp_path):
    """follow exits 1 for a failed job and 3 for a cancelled one (legacy dialect here)."""
    path = write_training_file(tmp_path / "train.jsonl")
    backend.set_faults(fail_job_at_step=1)
    failing = ftkit(
        backend, "jobs", "create", "-t", str(path), "-m", "ada", "--follow", dialect="legacy"
    )
    assert failing.exit_code == 1, failing.output
    assert "Job failed" in failing.output
    backend.clear_faults()
    backend.set_timing(queue_seconds=30)
    created = ftkit(
        backend,
        "jobs",
        "create",
        "-t",
        str(path),
        "-m",
        "ada",
        "--suffix",
        "x",
        "--format",
        "json",
        dialect="legacy",
    )
    job_id = json.loads(created.stdout)["id"]
    assert ftkit(backend, "jobs", "cancel", job_id, dialect="legacy").exit_code == 0
    followed = ftkit(backend, "jobs", "follow", job_id, dialect="legacy")
    assert followed.exit_code == 3
    assert "Fine-tune cancelled" in followed.output


def test_config_supplies_the_provider(backend, tmp_path):
    """--config takes the provider section of an experiment config."""
    config = tmp_path / "exp.yaml"
    config.write_text(f"provider:\n  kind: local\n  base_url: {backend.url}\n  dialect: legacy\n")
    result = runner.invoke(app, ["jobs", "--config", str(config), "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert backend.stats()["counts"].get("GET /v1/fine-tunes") == 1


def test_ctrl_c_says_the_job_keeps_running(backend, tmp_path, monkeypatch):
    """Ctrl-C while following: the job keeps running; re-attach and cancel commands are shown."""
    from ftkit.api.client import Jobs

    path = write_training_file(tmp_path / "train.jsonl")
    backend.set_timing(queue_seconds=30)
    job_id = json.loads(
        ftkit(backend, "jobs", "create", "-t", str(path), "--format", "json").stdout
    )["id"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(Jobs, "follow", interrupted)
    result = ftkit(backend, "jobs", "follow", job_id)
    assert result.exit_code == 130
    assert "it keeps running" in result.output
    assert f"ftkit jobs follow {job_id}" in result.output
    assert f"ftkit jobs cancel {job_id}" in result.output


def test_create_takes_job_defaults_from_the_config(backend, tmp_path):
    """--config's job section sets the job's parameters; a flag overrides one of them."""
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"provider:\n  base_url: {backend.url}\n"
        "job:\n  model: babbage-002\n  suffix: from-config\n  hyperparameters:\n    n_epochs: 1\n"
        "    batch_size: 2\n"
    )
    path = write_training_file(tmp_path / "train.jsonl")
    args = ["jobs", "--config", str(config), "create", "-t", str(path), "--n-epochs", "2"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["suffix"] == "from-config"
    with make_client(backend) as client:
        done = client.jobs.wait(job["id"], poll_interval_s=0.05, max_poll_interval_s=0.2)
    assert (done.hyperparameters["n_epochs"], done.hyperparameters["batch_size"]) == (2, 2)
    posted = [r for r in backend.stats()["requests"] if r["method"] == "POST"]
    assert len(posted) == 2  # the upload and the job


def test_jobs_list_has_a_header_and_takes_provider_options_after_list(backend):
    """An empty list still shows its columns; `--base-url` works after `list` as before it."""
    result = runner.invoke(app, ["jobs", "list", "--base-url", backend.url, "--dialect", "jobs"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["id\tstatus\tmodel\tfine_tuned_model"]
    inline = runner.invoke(app, ["jobs", "list", f"--base-url={backend.url}", "--format", "json"])
    assert inline.exit_code == 0, inline.output
    assert json.loads(inline.stdout) == []


def test_version_is_the_packages() -> None:
    """`ftkit --version` prints the installed package's version."""
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ftkit {version('ftkit')}"
