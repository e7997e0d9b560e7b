"""The budget: the summed estimate is printed before anything starts, and a sweep above
`sweep.budget_usd` is refused (exit 2) with no upload, no job and no run folder, unless
`--over-budget`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ftkit.api import Client
from ftkit.cli import app
from ftkit.config import load_config
from ftkit.sweeps.budget import sweep_cost
from ftkit.sweeps.search import expand_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "configs" / "sweep.yaml"


def test_an_over_budget_sweep_is_refused_before_anything_starts(
    tmp_path: Path, sweep_args: list[str], backend
) -> None:  # type: ignore[no-untyped-def]
    args = [*sweep_args, "sweep.budget_usd=0.001"]
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    config = load_config(args[0], args[1:])
    cost = sweep_cost(config, expand_sweep(config))
    assert cost.total_usd > 0.001 and cost.spent_usd == 0
    assert f"cost estimate ${cost.total_usd:.4f} for 4 trials" in result.stdout
    assert "above sweep.budget_usd $0.0010; nothing was started" in result.stderr
    assert "--over-budget" in result.stderr and "Traceback" not in result.output
    assert backend.stats()["requests"] == [], "not one request reached the backend"
    with Client(base_url=backend.url) as client:
        assert client.files.list() == []
        assert client.jobs.list() == []
    assert not (tmp_path / "runs").exists()


def test_the_estimate_is_tokens_times_each_trials_epochs_times_price(
    tmp_path: Path, tickets: Path
) -> None:
    """Trials with twice the epochs cost twice as much; the rates are the same."""
    config = load_config(SWEEP, [f"runs_dir={tmp_path / 'runs'}", f"data.source={tickets}"])
    trials = expand_sweep(config)
    by_trial = {cost.number: cost.usd for cost in sweep_cost(config, trials).trials}
    epochs = {t.number: t.config.job.hyperparameters.n_epochs for t in trials}
    assert epochs == {1: 2, 2: 4, 3: 2, 4: 4}
    assert by_trial[2] == by_trial[4] == 2 * by_trial[1] == 2 * by_trial[3]  # type: ignore[operator]


def test_a_sweep_on_a_pool_without_a_prefect_server_is_refused_before_anything_starts(
    tmp_path: Path, sweep_args: list[str], backend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The pool's workers could not reach a Prefect server that lives only as long as this
    command, so `sweep.pool` needs PREFECT_API_URL."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["run", *sweep_args, "sweep.pool=ftkit"])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("sweep.pool: the trials run on the workers of pool 'ftkit'") == 1
    assert "PREFECT_API_URL" in result.stderr and "Traceback" not in result.output
    assert backend.stats()["requests"] == [], "not one request reached the backend"
    assert not (tmp_path / "runs").exists()
