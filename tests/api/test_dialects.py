"""The two dialects: wire JSON ↔ one Job/JobEvent model; only set parameters are sent."""

from __future__ import annotations

from ftkit.api import JobSpec, JobStatus
from ftkit.api.dialects import JobsDialect, LegacyDialect, legacy_key
from ftkit.api.sse import SSEDecoder
from ftkit.config import JobConfig


def test_legacy_body_carries_short_run_key_in_suffix_within_40_chars():
    """Legacy: no nulls, no metadata; the suffix ends with ftk-<10 hex> and fits 40 chars."""
    spec = JobSpec(
        model="ada", training_file="file-1", suffix="My Very Long Suffix Name Here!!", seed=1
    )
    body = LegacyDialect().create_body(spec, "run-key-123")
    assert body["suffix"].endswith(legacy_key("run-key-123"))
    assert len(body["suffix"]) <= 40
    assert set(body) == {"model", "training_file", "suffix"}


def test_legacy_job_is_normalised():
    """A legacy job (file objects, hyperparams, result file objects) becomes a Job."""
    payload = {
        "id": "ft-1",
        "object": "fine-tune",
        "model": "curie",
        "status": "succeeded",
        "created_at": 1,
        "updated_at": 5,
        "fine_tuned_model": f"curie:ft-personal:{legacy_key('k')}-2023-01-01-00-00-00",
        "hyperparams": {"n_epochs": 4, "batch_size": 1},
        "training_files": [{"id": "file-t", "filename": "t.jsonl"}],
        "validation_files": [],
        "result_files": [{"id": "file-r", "filename": "compiled_results.csv"}],
    }
    job = LegacyDialect().parse_job(payload)
    assert (job.status, job.training_file, job.validation_file) == (
        JobStatus.succeeded,
        "file-t",
        None,
    )
    assert job.result_files == ["file-r"]
    assert job.hyperparameters["n_epochs"] == 4
    assert job.finished_at == 5
    assert LegacyDialect().has_run_key(job, "k")


def test_jobs_failed_job_carries_the_provider_error():
    """A failed job keeps code/param/message; validating_files maps to validating."""
    dialect = JobsDialect()
    failed = dialect.parse_job(
        {
            "id": "ftjob-1",
            "status": "failed",
            "error": {
                "code": "invalid_n_examples",
                "message": "Training file has 7 example(s)",
                "param": "training_file",
            },
        }
    )
    assert failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_n_examples", "training_file")
    assert (
        dialect.parse_job({"id": "x", "status": "validating_files"}).status is JobStatus.validating
    )


def test_spec_from_config_keeps_unset_values_unset():
    """JobSpec.from_config leaves auto hyperparameters unset; classification only when enabled."""
    config = JobConfig.model_validate(
        {"model": "ada", "hyperparameters": {"n_epochs": 3}, "classification": {"n_classes": 3}}
    )
    spec = JobSpec.from_config(config, "file-t", "file-v")
    assert spec.n_epochs == 3
    assert spec.batch_size is None
    assert spec.classification_n_classes is None
    body = JobsDialect().create_body(spec, "rk")
    assert body["hyperparameters"] == {"n_epochs": 3}
    assert body["validation_file"] == "file-v"


def test_legacy_events_get_positional_ids():
    """Legacy events have no id: the position in the history becomes one."""
    event = LegacyDialect().parse_event(
        {"created_at": 3, "level": "info", "message": "Fine-tune started"}, 4
    )
    assert event.id == "ev-4"


def test_sse_decoder_joins_data_lines_and_ignores_comments():
    """data: lines are joined per event; comments and other fields are ignored."""
    decoder = SSEDecoder()
    out = [
        decoder.feed(line)
        for line in [": ping", 'data: {"a":', "data: 1}", "", "event: x", "data: [DONE]", ""]
    ]
    assert [o for o in out if o is not None] == ['{"a":\n1}', "[DONE]"]
    decoder.feed("data: tail")
    assert decoder.flush() == "tail"
