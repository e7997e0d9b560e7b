"""Result files: both column schemas, plain or base64, empty cells, extra columns, summaries."""

from __future__ import annotations

import base64

import pytest

from ftkit.api import Job, JobStatus
from ftkit.errors import DataError
from ftkit.results import fetch_results, parse_results, summarize

LEGACY = b"""step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,training_token_accuracy,validation_loss,validation_sequence_accuracy,validation_token_accuracy,classification/accuracy,classification/precision,classification/recall,classification/auroc,classification/auprc,classification/f1.0
1,1625,4,0.301,0.0,0.5,0.284,0.25,0.5,,,,,,
2,3300,8,0.212,0.25,0.5,,,,0.75,0.667,1.0,0.9,0.88,0.8
3,4880,12,0.120,0.5,0.75,0.101,0.5,0.75,,,,,,
4,6531,16,0.061,1.0,1.0,,,,0.95,0.93,1.0,1.0,1.0,0.96
"""

JOBS = b"""step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy,full_valid_loss,custom_thing
1,1.52347,0.0,,,,a
2,0.9,0.5,0.8,0.6,,b
3,1.1,0.75,0.7,0.55,0.65,c
"""


def test_legacy_schema_with_empty_cells_and_classification():
    """Legacy compiled_results.csv: empty cells are None; classification taken from the last row."""
    table = parse_results(LEGACY)
    assert table.schema_name == "legacy"
    assert table.rows[1]["validation_loss"] is None
    summary = summarize(table)
    assert summary.final_step == 4
    assert summary.final_train_loss == 0.061
    assert summary.best_train_loss == 0.061
    assert summary.final_valid_loss == 0.101
    assert summary.best_valid_loss == 0.101
    assert summary.final_train_accuracy == 1.0
    assert summary.classification["accuracy"] == 0.95
    assert summary.classification["f1.0"] == 0.96


def test_jobs_schema_keeps_unknown_columns():
    """The jobs schema parses; an unknown column is kept, text cells stay text."""
    table = parse_results(JOBS)
    assert table.schema_name == "jobs"
    assert "custom_thing" in table.columns
    assert [row["custom_thing"] for row in table.rows] == ["a", "b", "c"]
    summary = summarize(table)
    assert (summary.final_train_loss, summary.best_train_loss) == (1.1, 0.9)
    assert (summary.final_valid_accuracy, summary.best_valid_accuracy) == (0.55, 0.6)
    assert summary.final_full_valid_loss == 0.65
    assert summary.classification == {}


def test_base64_content_is_decoded():
    """A base64-encoded result file (current API) parses like the plain one."""
    encoded = base64.b64encode(JOBS)
    assert parse_results(encoded) == parse_results(JOBS)
    wrapped = b"\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
    assert parse_results(wrapped) == parse_results(JOBS)


def test_not_a_results_file_is_a_data_error():
    """A file without `step` or an empty one is a DataError saying so."""
    with pytest.raises(DataError, match="step"):
        parse_results(b"a,b\n1,2\n")
    with pytest.raises(DataError, match="empty"):
        parse_results(b"")


def test_a_job_without_result_files_says_so():
    """Fetching results of a job that has none is a DataError naming the job."""
    job = Job(id="ftjob-1", status=JobStatus.running)
    with pytest.raises(DataError, match="ftjob-1"):
        fetch_results(None, job)  # type: ignore[arg-type]
