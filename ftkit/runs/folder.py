"""The run folder: everything one run produces, under runs/<experiment>/<run-id>/.

    config.yaml            the resolved config of the latest attempt
    run.json               RunState: key, status, stage, job id, model, metrics, timings
    prepared/              train/valid/test.jsonl + validation.json (ftkit.data)
    job.json               the remote job as last seen
    events.jsonl           every job event once, oldest first; cursor.json resumes following
    results/<file-id>.csv  the job's result files
    predictions.jsonl, baseline_predictions.jsonl, report.{json,md,html}   (ftkit.evaluate/report)

A folder is found again from its config and data alone (the run id derives from the run key),
so a re-run after a crash continues where the last one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ftkit.config import ExperimentConfig, load_config
from ftkit.errors import ConfigError, JobCancelledError, UnknownJobError
from ftkit.runs.atomic import read_json, write_bytes_atomic, write_json_atomic
from ftkit.runs.events import EventLog
from ftkit.runs.index import RunIndex
from ftkit.runs.key import config_hash, dataset_hash, run_id, run_key
from ftkit.runs.state import (
    FINAL_STATUSES,
    IndexEntry,
    RunError,
    RunOutcome,
    RunState,
    now_iso,
)


class RunFolder:
    """One run's folder and its state; every state change also updates the run index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events = EventLog(path / "events.jsonl", path / "cursor.json")
        self._before_attempt: RunState | None = None

    config_yaml = property(lambda self: self.path / "config.yaml")
    run_json = property(lambda self: self.path / "run.json")
    prepared_dir = property(lambda self: self.path / "prepared")
    validation_json = property(lambda self: self.path / "prepared" / "validation.json")
    job_json = property(lambda self: self.path / "job.json")
    results_dir = property(lambda self: self.path / "results")
    report_json = property(lambda self: self.path / "report.json")
    report_md = property(lambda self: self.path / "report.md")
    report_html = property(lambda self: self.path / "report.html")

    @property
    def runs_dir(self) -> Path:
        """The runs directory holding this folder (runs/<experiment>/<run-id>)."""
        return self.path.parent.parent

    @classmethod
    def for_config(cls, config: ExperimentConfig) -> RunFolder:
        """Open (creating if needed) the folder of the run this config and its data ask for."""
        data_sha256 = dataset_hash(config)
        key = run_key(config, data_sha256)
        folder = cls((config.runs_dir / config.name / run_id(key)).resolve())
        folder.path.mkdir(parents=True, exist_ok=True)
        if folder.run_json.is_file():
            return folder
        state = RunState(
            run_id=run_id(key),
            run_key=key,
            experiment=config.name,
            config_hash=config_hash(config),
            data_sha256=data_sha256,
            base_model=config.job.model,
        )
        folder.write_config(config)
        folder.save_state(state)
        return folder

    @classmethod
    def open(cls, ref: str | Path, runs_dir: Path = Path("runs")) -> RunFolder:
        """An existing run by folder path, run id (prefix) or experiment/run-id."""
        path = Path(ref)
        if not (path / "run.json").is_file():
            entry = RunIndex(runs_dir).find(str(ref))
            path = runs_dir / entry.path
        folder = cls(path)
        if not folder.run_json.is_file():
            msg = f"{path} is not a run folder (no run.json)."
            raise ConfigError(msg)
        return folder

    def load_state(self) -> RunState:
        """run.json as a RunState."""
        return RunState.model_validate(read_json(self.run_json))

    def save_state(self, state: RunState) -> RunState:
        """Write run.json atomically and update the run index."""
        state.updated_at = now_iso()
        write_json_atomic(self.run_json, state.model_dump(mode="json"))
        RunIndex(self.runs_dir).upsert(IndexEntry.of(state))
        return state

    def update(self, **changes: Any) -> RunState:
        """Change fields of run.json (validated) and save it."""
        state = self.load_state()
        for name, value in changes.items():
            setattr(state, name, value)
        return self.save_state(state)

    def load_config(self) -> ExperimentConfig:
        """The resolved config saved in the folder."""
        return load_config(self.config_yaml)

    def write_config(self, config: ExperimentConfig) -> None:
        """Save the resolved config (absolute paths, defaults filled in) as config.yaml."""
        text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
        write_bytes_atomic(self.config_yaml, text.encode())

    def save_model(self, path: Path, model: BaseModel) -> None:
        """Write a pydantic object (job, results summary) as JSON inside the folder."""
        write_json_atomic(path, model.model_dump(mode="json"))

    def start_attempt(self, config: ExperimentConfig, flow_run_id: str | None = None) -> RunState:
        """Mark the run running again with `config` (a new attempt), keeping what earlier
        attempts recorded (job, files, cursor)."""
        state = self._before_attempt = self.load_state()
        self.write_config(config)
        return self.update(
            config_hash=config_hash(config),
            status="running",
            error=None,
            finished_at=None,
            attempts=state.attempts + 1,
            flow_run_id=flow_run_id,
            timings={},
            attempt_timings=[*state.attempt_timings, {}],
            stage_started_at={},
        )

    def is_up_to_date(self, config: ExperimentConfig) -> bool:
        """True when this exact config already ran to the end here (nothing left to do)."""
        state = self.load_state()
        return state.status == "succeeded" and state.config_hash == config_hash(config)

    def succeed(self) -> RunState:
        """Mark the run succeeded and finished."""
        return self.update(status="succeeded", stage="done", finished_at=now_iso(), error=None)

    def fail(self, exc: BaseException, *, code: str | None = None) -> RunState:
        """Record an error: cancelled for a cancelled job, failed for anything else."""
        status = "cancelled" if isinstance(exc, JobCancelledError) else "failed"
        error = RunError(code=code or type(exc).__name__, message=str(exc))
        return self.update(status=status, error=error, finished_at=now_iso())

    def outcome(self, *, up_to_date: bool = False) -> RunOutcome:
        """What the CLI and callers get back: the folder, the state, and whether it was a no-op."""
        return RunOutcome(path=str(self.path), state=self.load_state(), up_to_date=up_to_date)

    def interrupt(self) -> RunState:
        """Record that the runner was stopped from outside; the remote job is left running."""
        message = (
            "the runner was stopped (a signal or Ctrl-C); the job was left as it was: "
            "run the same command again to re-attach"
        )
        return self.update(
            status="interrupted", error=RunError(code="interrupted", message=message)
        )

    @contextmanager
    def recording_errors(self) -> Iterator[None]:
        """Record any error that escapes in run.json (failed or cancelled; interrupted for a
        signal or Ctrl-C), then re-raise."""
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, UnknownJobError) and self._before_attempt is not None:
                self.save_state(self._before_attempt)  # another API's answer changes nothing
            elif self.load_state().status not in FINAL_STATUSES:
                if isinstance(exc, Exception):
                    self.fail(exc, code=getattr(exc, "code", None))
                else:
                    self.interrupt()
            raise

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Record `stage` as the current stage and its wall time in run.json timings."""
        state = self.load_state()
        self.update(stage=stage, stage_started_at={**state.stage_started_at, stage: time.time()})
        started = time.perf_counter()
        try:
            yield
        finally:
            state = self.load_state()
            seconds = round(time.perf_counter() - started, 3)
            state.timings = {**state.timings, stage: seconds}
            earlier = state.attempt_timings[:-1] if state.attempt_timings else []
            state.attempt_timings = [*earlier, state.timings]
            self.save_state(state)
